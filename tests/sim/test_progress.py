"""Progress (:mod:`sim.progress`): a bar on a terminal and in a notebook, plain occasional
lines without a terminal, nothing under ``--json`` or ``COURSE_PROGRESS=0``, closed on errors,
never changing a result.

The terminal runs are real processes whose standard error is a pseudo-terminal (``pty``);
the notebook run is a real Jupyter kernel (``nbclient``) with ipywidgets.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pty_run import run_with_terminal_stderr

import sim
from sim import progress

ROOT = Path(__file__).resolve().parents[2]
CONTROL = re.compile(rb"[\r\x1b]")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != progress.ENV}
    return env | extra


COUNTING = """
import time
from sim import progress
with progress.task("counting", total=40, unit="things") as shown:
    for _ in range(40):
        time.sleep(0.04)
        for _ in range(2000):
            shown.advance(0)  # a hot loop's cheap updates
        shown.advance()
print("finished")
"""


def test_a_terminal_shows_a_counting_bar_redrawn_at_most_a_few_times_a_second():
    t0 = time.monotonic()
    code, out, terminal = run_with_terminal_stderr(["-c", COUNTING], _env())
    elapsed = time.monotonic() - t0
    assert code == 0 and out == b"finished\n"
    assert b"counting" in terminal and b"/40 things" in terminal
    assert b"\r" in terminal  # a bar redrawn in place
    frames = terminal.count(b"/40 things")
    assert 2 <= frames <= elapsed * 10 + 3, (frames, elapsed)  # at most ~10 redraws a second


def test_without_a_terminal_there_is_no_control_character():
    proc = subprocess.run(
        [sys.executable, "-c", COUNTING], capture_output=True, env=_env(), cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout == b"finished\n"
    assert not CONTROL.search(proc.stderr), proc.stderr[:200]


def test_course_progress_0_turns_the_bar_off_on_a_terminal():
    code, out, terminal = run_with_terminal_stderr(["-c", COUNTING], _env(COURSE_PROGRESS="0"))
    assert code == 0 and out == b"finished\n"
    assert b"counting" not in terminal and not CONTROL.search(terminal)


def test_a_long_task_without_a_terminal_prints_plain_lines_only(monkeypatch, capsys):
    monkeypatch.delenv(progress.ENV, raising=False)
    monkeypatch.setattr(progress, "FIRST_LINE_S", 0.2)
    monkeypatch.setattr(progress, "LINE_EVERY_S", 0.3)
    assert progress.mode() == "lines"  # pytest captures stderr: not a terminal
    with progress.task("waiting for the cluster") as shown:
        shown.waiting_for("waiting for broker-2 to start")
        time.sleep(1.4)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "\r" not in err and "\x1b" not in err
    assert 2 <= len(lines) <= 6, lines
    assert lines[0].startswith("waiting for the cluster: waiting for broker-2 to start: ")
    assert lines[-1].endswith(", done")


def test_bench_json_is_one_json_object_and_the_terminal_gets_nothing():
    args = ["-m", "sim.bench", "--messages", "20000", "--repeat", "2", "--json"]
    code, out, terminal = run_with_terminal_stderr(args, _env())
    assert code == 0
    data = json.loads(out)  # the whole of stdout is one JSON object
    assert set(data) == {"sim"} and len(data["sim"]["walls_s"]) == 2
    assert terminal == b""
    quiet = subprocess.run(
        [sys.executable, *args], capture_output=True, env=_env(COURSE_PROGRESS="0"), cwd=ROOT
    )
    assert json.loads(quiet.stdout)["sim"]["totals"] == data["sim"]["totals"]
    assert set(json.loads(quiet.stdout)["sim"]) == set(data["sim"])


def test_bench_on_a_terminal_counts_its_runs():
    args = ["-m", "sim.bench", "--messages", "20000", "--repeat", "3"]
    code, out, terminal = run_with_terminal_stderr(args, _env())
    assert code == 0 and b"standard scenario: 20,000 messages" in out
    assert b"sim.bench: 20,000 messages" in terminal and b"/3 runs" in terminal
    assert b"\r" in terminal


def test_an_error_closes_the_bar_and_stops_its_thread(monkeypatch, capsys):
    monkeypatch.setenv(progress.ENV, "bar")  # a real tqdm text bar (into pytest's capture)
    with (
        pytest.raises(RuntimeError, match="broker gone"),
        progress.task("a lab", total=10, unit="msg") as shown,
    ):
        shown.advance(3)
        assert progress.current() is shown
        raise RuntimeError("broker gone")
    assert progress.current() is None
    time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name.startswith("progress:")]
    assert "3/10 msg" in capsys.readouterr().err  # left on screen: where it stopped


def test_a_step_names_what_the_open_bar_waits_for_and_is_undone_after(monkeypatch, capsys):
    monkeypatch.setenv(progress.ENV, "bar")
    with progress.task("loss twin") as twin:
        twin.waiting_for("running the real lab")
        assert twin.describe() == "loss twin: running the real lab"
        with progress.task("loss lab on the real brokers"):
            assert twin.describe() == "loss twin: loss lab on the real brokers"
            with progress.step("waiting for the consumer") as step:
                assert twin.describe() == "loss twin: waiting for the consumer"
                step.waiting_for("waiting for the consumer to catch up")
                assert twin.describe() == "loss twin: waiting for the consumer to catch up"
        assert twin.describe() == "loss twin: running the real lab"
        with progress.task("sending", total=5, unit="msg") as sent:
            assert sent is not twin and progress.current() is sent  # a counted bar of its own
    with progress.step("no bar is open") as alone:  # nothing is drawn, nothing breaks
        alone.advance()
    assert progress.current() is None


def test_silenced_and_a_bad_total_are_clear(monkeypatch):
    monkeypatch.setenv(progress.ENV, "bar")
    assert progress.mode() == "terminal"
    with progress.silenced():
        assert progress.mode() == "off"
        with progress.task("quiet", total=3) as shown:
            assert progress.current() is None and shown.total == 3
    with progress.silenced(False):
        assert progress.mode() == "terminal"
    with (
        pytest.raises(ValueError, match='"total" must be a non-negative integer'),
        progress.task("x", total=-1),
    ):
        pass
    monkeypatch.setenv(progress.ENV, "of")  # a typo fails loudly, naming the variable
    with pytest.raises(ValueError, match="COURSE_PROGRESS must be 0 .* got 'of'"):
        progress.mode()


def test_progress_never_changes_a_sweeps_results(monkeypatch, capsys):
    base = sim.load(
        {"workload": {"rate_per_s": 100, "duration_s": 2}, "consumers": {"groups": [{}]}}
    )
    grid = {"workload.rate_per_s": [50, 200], "consumers.groups.0.consumers": [1, 2]}

    def totals(kind: str) -> list:
        monkeypatch.setenv(progress.ENV, kind)
        with ThreadPoolExecutor(2) as pool:
            results = sim.sweep(base, grid, seeds=(0, 1), executor=pool)
        return [(r.name, r.seed, r.report.totals(), r.metrics) for r in results]

    shown = totals("bar")
    assert "sweep of" in capsys.readouterr().err  # the bar was really drawn
    assert shown == totals("0")


NOTEBOOK_CELL = """
from sim import progress
print(progress.mode())
with progress.task("counting", total=5, unit="things") as shown:
    for _ in range(5):
        shown.advance()
try:
    with progress.task("failing", total=5, unit="things") as shown:
        shown.advance(2)
        raise RuntimeError("stop")
except RuntimeError:
    print("stopped")
"""


def test_a_notebook_kernel_draws_widget_bars_gone_when_done_red_on_an_error():
    nbformat = pytest.importorskip("nbformat")  # jupyterlab's dependencies: always there
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(NOTEBOOK_CELL)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    env_before = os.environ.pop(progress.ENV, None)
    try:
        nbclient.NotebookClient(
            nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
        ).execute()
    finally:
        if env_before is not None:
            os.environ[progress.ENV] = env_before
    outputs = nb.cells[0].outputs
    text = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
    assert text.split() == ["notebook", "stopped"]
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 1  # the failed task's widget bar; no text bar
    # its plain-text form: no count, no time -- nothing to leak or to diff
    assert views[0]["data"]["text/plain"] == "[progress: failing]"
    # the finished task's bar was shown, then its output emptied: no dead widget view stays
    assert [o["data"] for o in outputs if o.get("output_type") == "display_data"] == [
        {"text/plain": ""},
        views[0]["data"],
    ]
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    bars = [m["state"] for m in state.values() if m["model_name"] == "FloatProgressModel"]
    assert sorted((b["value"], b["max"], b["bar_style"]) for b in bars) == [
        (2, 5, "danger"),  # the failed task's bar stays, red, where it stopped
        (5, 5, ""),
    ]
    layouts = {k: m["state"] for k, m in state.items() if m["model_name"] == "LayoutModel"}
    boxes = [m["state"] for m in state.values() if m["model_name"] == "HBoxModel"]
    hidden = [layouts[b["layout"].removeprefix("IPY_MODEL_")].get("visibility") for b in boxes]
    assert sorted(map(str, hidden)) == ["None", "hidden"]  # the finished bar is hidden


def test_a_line_written_while_a_bar_is_open_is_printed_whole(monkeypatch, capsys):
    monkeypatch.setenv(progress.ENV, "bar")
    with progress.task("workshop: 2 learners", total=4, unit="items"):
        progress.write("[learner-ws1 1/4] lab:loss held (6.1 s)")
    err = capsys.readouterr().err
    assert "[learner-ws1 1/4] lab:loss held (6.1 s)\n" in err
    assert "workshop: 2 learners" in err
    monkeypatch.setenv(progress.ENV, "0")
    progress.write("a plain line")
    assert capsys.readouterr().err == "a plain line\n"

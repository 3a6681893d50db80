"""Progress of the real-broker runs (:mod:`sim.progress`): a lab and a twin on a terminal show
what they wait for and count the messages sent; ``--json`` prints the result alone; without
a terminal nothing with a control character reaches the log."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pty_run import run_with_terminal_stderr

from sim import progress

pytestmark = pytest.mark.brokers
ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != progress.ENV}


def _run(args: list[str]) -> tuple[int, bytes, bytes]:
    return run_with_terminal_stderr(args, _env(), columns=120, timeout_s=180)


def test_a_lab_on_a_terminal_counts_the_messages_it_sends():
    code, out, terminal = _run(["-m", "labs", "run", "loss"])
    assert code == 0, terminal[-2000:]
    assert b"loss lab on the real brokers" in terminal
    assert re.search(rb"sending +\d+%\|.*\| \d+/800 msg", terminal)
    assert b"\r" in terminal
    assert b"\r" not in out  # the table on stdout is plain


def test_a_lab_with_json_prints_the_result_alone():
    code, out, terminal = _run(["-m", "labs", "run", "loss", "--json"])
    assert code == 0, terminal[-2000:]
    assert json.loads(out)["name"] == "loss"
    assert terminal == b""


def test_a_twin_on_a_terminal_names_its_steps_and_without_one_logs_no_control_character():
    code, out, terminal = _run(["-m", "labs", "twin", "loss"])
    assert code in (0, 1), terminal[-2000:]  # agreeing or not (the twin tests' business)
    assert b"simulator and real broker" in out
    assert b"loss twin: calibrating on the real brokers" in terminal
    assert b"loss twin: loss lab on the real brokers" in terminal
    assert re.search(rb"\d+/800 msg", terminal)
    piped = subprocess.run(
        [sys.executable, "-m", "labs", "twin", "loss", "--json"],
        capture_output=True,
        env=_env(),
        cwd=ROOT,
        timeout=180,
    )
    assert piped.returncode in (0, 1), piped.stderr[-2000:]
    assert json.loads(piped.stdout)["twin"] == "loss"
    assert not re.search(rb"[\r\x1b]", piped.stderr)

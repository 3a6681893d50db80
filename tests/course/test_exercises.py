"""Run All gives no answer away: the rules (:mod:`exercise_check`) and their wiring.

The check itself runs on every lesson in ``make nbval`` (one ``<lesson>::exercises`` item
per lesson, :mod:`nbval_exercises`), on the run nbval makes anyway: each lesson executes
once for both. Here: every lesson builds its exercise with ``labs.exercises``; the leak
forms; and the plugin on small lessons executed by nbval exactly as ``make nbval`` does --
a clean one passes, one that prints its answer, one whose exercise cell skips the
learner's placeholder and one without an exercise each fail, naming why.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import nbformat
import pytest
from exercise_check import leak_forms, token
from nbval_references import lessons, prepare

ROOT = Path(__file__).resolve().parents[2]


def test_every_lesson_uses_the_exercise_api():
    missing = [p.stem for p in lessons() if "from labs.exercises import" not in p.read_text()]
    assert not missing, f"{missing} make no exercise with labs.exercises"


def _nbval_runs(target: str) -> list[list[str]]:
    """The nbval commands ``make TARGET`` would run (``make -n``: printed, not run)."""
    out = subprocess.run(
        ["make", "-n", "--no-print-directory", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return [line.split() for line in out.splitlines() if "--nbval-lax" in line]


def _lessons_of(args: list[str]) -> list[str]:
    """The lessons one nbval command runs: its .ipynb paths, or every lesson of the folder
    minus the ignored ones."""
    named = [Path(a).stem for a in args if a.endswith(".ipynb") and not a.startswith("--")]
    if "build/nbval" not in args:
        return named
    ignored = {Path(a.split("=", 1)[1]).stem for a in args if a.startswith("--ignore=")}
    return [p.stem for p in lessons() if p.stem not in ignored]


@pytest.mark.parametrize("target", ["nbval", "check"])
def test_make_runs_every_lesson_once_with_the_exercise_check(target):
    runs = _nbval_runs(target)
    assert runs, f"make {target} runs no nbval"
    for args in runs:
        assert "tests.course.nbval_exercises" in args, " ".join(args)
    ran = sorted(stem for args in runs for stem in _lessons_of(args))
    assert ran == [p.stem for p in lessons()], ran


@pytest.mark.parametrize(
    ("expected", "forms"),
    [
        (1234, {"1234", "1,234"}),
        (0.0248, {"0.0248", "2.48%"}),
        (45123.7, {"45100", "45123.7", "45,124", "45124", "45123.70"}),
        (7, set()),  # fewer than 3 significant digits: only the "Correct" rule guards it
        ({"a": 0.5, "b": [155, True]}, {"155", "50.0%", "50.00%"}),
        (150, set()),  # a whole number's trailing zeros are no significant digits: 2
        (100, set()),  # a round number any output may print (lesson 15: "100 ms")
        ("hot", set()),
    ],
)
def test_leak_forms(expected, forms):
    assert leak_forms(expected) == forms


def test_a_form_is_searched_as_a_whole_number():
    assert token("150").search("lost 150 of 900")
    assert not token("150").search("1500 lost") and not token("150").search("2,150 lost")
    assert not token("150").search("150.5 ms") and token("150").search("150. Then")


EXERCISE = """# %%
from labs.exercises import Exercise

ex = Exercise("t-twice", "Twice 617?", lambda: 2 * 617, solution=1234, explanation="2 x 617.")
"""
LEAK = """
# %%
print("the pipeline delivered", 2 * 617)
"""
CHECK = """
# %%
answer = ...
ex.check(answer)
"""


CASES = {
    "clean": EXERCISE + CHECK,
    "prints_answer": EXERCISE + LEAK + CHECK,
    "prints_verdict": EXERCISE + "\n# %%\nprint(ex.check(1234))\n" + CHECK,
    "no_placeholder": EXERCISE,
    "no_exercise": "# %%\nprint('no exercise here')\n",
}


@pytest.fixture(scope="module")
def nbval_run(tmp_path_factory) -> dict[str, str]:
    """One nbval run, with the plugin, over a small lesson per case (as ``make nbval``):
    per case, the exercise item's failure message ("" when it passed)."""
    tmp = tmp_path_factory.mktemp("exercise-check")
    (tmp / "src").mkdir()
    (tmp / "refs").mkdir()
    sources = []
    for i, (name, source) in enumerate(CASES.items()):
        sources.append(tmp / "src" / f"9{i}_{name}.py")
        sources[-1].write_text(source)
    notebooks = prepare(tmp / "out", sources, tmp / "refs")
    report = tmp / "report.xml"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"]
    plugin = ["-p", "tests.course.nbval_exercises", f"--nbval-save-executed={tmp / 'ran'}"]
    run = subprocess.run(
        [*cmd, *plugin, "--nbval-lax", *map(str, notebooks)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp,
        env=env,
    )
    assert report.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    outcomes = {}
    for case in ElementTree.parse(report).iter("testcase"):
        if case.get("name") == "exercises":
            failure = case.find("failure")
            name = case.get("classname", "")  # "out.91_prints_answer"
            outcomes[name] = "" if failure is None else failure.get("message", "FAILED")
    return {"ran": tmp / "ran", **outcomes}


def _outcome(outcomes: dict[str, str], case: str) -> str:
    found = [m for name, m in outcomes.items() if str(name).endswith(f"_{case}.ipynb")]
    assert len(found) == 1, f"no exercises item for {case}: {outcomes}"
    return found[0]


def test_a_lesson_that_keeps_its_answer_passes_the_check(nbval_run):
    assert _outcome(nbval_run, "clean") == ""


def test_the_lesson_is_saved_as_nbval_ran_it_without_the_probe(nbval_run):
    ran = nbformat.read(nbval_run["ran"] / "91_prints_answer.ipynb", as_version=4)
    assert [c.execution_count for c in ran.cells] == [1, 2, 3]  # the probe left out
    assert ran.cells[1].outputs[0].text == "the pipeline delivered 1234\n"
    assert "Not answered yet" in ran.cells[2].outputs[0].data["text/markdown"]


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("prints_answer", "t-twice: the expected value is printed on Run All"),
        ("prints_verdict", "print 'Correct' on Run All"),
        ("no_placeholder", "an exercise cell did not check `...`"),
        ("no_exercise", "makes no exercise"),
    ],
)
def test_the_check_fails_a_lesson_that_breaks_a_rule(nbval_run, case, says):
    message = _outcome(nbval_run, case)
    assert says in message, message

"""Run All gives no answer away, and every exercise checks right, wrong and unanswered.

Each lesson (``notebooks/NN_*.py``) is built with jupytext and executed once, top to
bottom, in a fresh kernel on the real brokers, exactly as a learner's Run All. Cells tagged
``exercise-test`` are appended: they read, in that kernel, every exercise the lesson made
(:func:`labs.exercises.created`) and print, as JSON, its expected value and the verdicts
for ``...``, for its ``solution`` and for an answer derived to be wrong. The test asserts:

- the lesson made at least one exercise;
- no output of the lesson's own cells contains ``Correct`` (a verdict that gives the answer
  away) or the expected value as it could be printed (see :func:`_leak_forms`);
- each exercise cell did check the learner's placeholder: "Not answered yet" is printed;
- ``...`` is "Not answered yet", the solution is correct, the wrong answer is "Not quite"
  and its verdict does not show the expected value either.

The leak rule: numbers only (booleans and strings are words a lesson uses by design; the
"Correct" check catches a verdict that shows them). For a number, the forms searched are the
verdict's rounded form (:func:`labs.exercises.shown`) and the forms a cell would print
(``str``/``repr``, one and two decimals, the rounded integer, thousands separators, a
fraction's percent), each as a whole token (not inside a longer number). A form with fewer
than 3 significant digits (0, 1, 7, 0.5, 12 ...) is not searched: such a number appears in
any lesson's output by chance, so only the "Correct" check can guard it.

Every lesson makes its exercise with ``labs.exercises``
(:func:`test_every_lesson_uses_the_exercise_api`).
"""

from __future__ import annotations

import json
import re
import time
import warnings
from datetime import datetime
from pathlib import Path

import jupytext
import nbformat
import pytest

from sim.course.headless import execute

ROOT = Path(__file__).resolve().parents[2]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
TAG = "exercise-test"
#: Seconds one cell may run (the slowest real-broker cells take about 10 s).
CELL_TIMEOUT_S = 300
#: A lesson slower than this (s) is reported as a warning naming its slowest cells: a
#: lesson usually runs in 7-45 s, and a wait of minutes is a bug to find, not a failure.
SLOW_LESSON_S = 90.0

PROBE = r'''
import json as _json
import numbers as _numbers

from labs.exercises import created as _created


def _wrong(value):
    """An answer no exercise accepts: far outside any rel_tol (< 1), or a different item."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, _numbers.Integral):
        return int(value) + 2 * (abs(int(value)) + 1)
    if isinstance(value, _numbers.Real):
        return float(value) + 2 * (abs(float(value)) + 1)
    if isinstance(value, str):
        return value + " (not this)"
    if isinstance(value, dict) and value:
        first = next(iter(value))
        return {**value, first: _wrong(value[first])}
    if isinstance(value, (list, tuple)) and value:
        return type(value)([_wrong(value[0]), *value[1:]])
    return object()


def _plain(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, _numbers.Integral):
        return int(value)
    if isinstance(value, _numbers.Real):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


_rows = []
for _ex in _created():
    _value = _ex.expected_value()
    _rows.append(
        {
            "key": _ex.key,
            "expected": _plain(_value),
            "unanswered": _ex.check(...).message,
            "solution": _ex.check(_ex.solution).message,
            "solution_correct": _ex.check(_ex.solution).correct,
            "wrong": _ex.check(_wrong(_value)).message,
            "wrong_correct": _ex.check(_wrong(_value)).correct,
        }
    )
print("EXERCISES " + _json.dumps(_rows))
'''


def _significant_digits(form: str) -> int:
    return len(form.replace("-", "").replace(".", "").replace(",", "").replace("%", "").lstrip("0"))


def _number_forms(value: float | int) -> set[str]:
    from labs.exercises import shown

    forms = {shown(value), str(value)}
    if isinstance(value, int):
        forms |= {f"{value:,}"}
    else:
        forms |= {repr(value), f"{value:.1f}", f"{value:.2f}", f"{value:,.0f}", str(round(value))}
        if 0 < abs(value) < 1:
            forms |= {f"{value:.1%}", f"{value:.2%}", shown(100 * value) + "%"}
    return {f for f in forms if _significant_digits(f) >= 3}


def _leak_forms(expected) -> set[str]:
    """The printed forms of ``expected`` searched in the lesson's outputs (see the module)."""
    if isinstance(expected, bool | str) or expected is None:
        return set()
    if isinstance(expected, int | float):
        return _number_forms(expected)
    if isinstance(expected, dict):
        return set().union(*(_leak_forms(v) for v in expected.values()))
    if isinstance(expected, list):
        return set().union(*(_leak_forms(v) for v in expected))
    return set()


def _token(form: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\d.,]){re.escape(form)}(?![\d]|[.,]\d)")


def _texts(cell) -> list[str]:
    """Everything a cell printed or displayed as text (images and widget views left out)."""
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            out.append(o.get("text", ""))
        elif o.get("output_type") == "error":
            out.append("\n".join(o.get("traceback", [])))
        else:
            for mime, data in o.get("data", {}).items():
                if mime.startswith("text/"):
                    out.append(data if isinstance(data, str) else "".join(data))
    return out


def _run(path: Path) -> tuple[nbformat.NotebookNode, float]:
    nb = jupytext.read(path)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE, metadata={"tags": [TAG]}))
    start = time.monotonic()
    execute(nb, path.parent, timeout_s=CELL_TIMEOUT_S)
    seconds = time.monotonic() - start
    if seconds > SLOW_LESSON_S:
        warnings.warn(
            f"{path.stem} ran {seconds:.0f} s; slowest cells: {_slowest(nb)}", stacklevel=1
        )
    return nb, seconds


def _slowest(nb: nbformat.NotebookNode, n: int = 3) -> str:
    """The ``n`` longest cells, from the timing nbclient records in each cell's metadata."""
    timed = []
    for i, cell in enumerate(nb.cells):
        stamps = cell.get("metadata", {}).get("execution", {})
        if "iopub.status.busy" in stamps and "iopub.status.idle" in stamps:
            took = datetime.fromisoformat(stamps["iopub.status.idle"].replace("Z", "+00:00"))
            took -= datetime.fromisoformat(stamps["iopub.status.busy"].replace("Z", "+00:00"))
            lines = [ln for ln in cell.source.splitlines() if ln.strip()]
            first = next((ln for ln in lines if not ln.startswith("#")), lines[0] if lines else "")
            timed.append((took.total_seconds(), i, first[:60]))
    top = "; ".join(f"cell {i} {t:.1f} s ({line})" for t, i, line in sorted(timed)[::-1][:n])
    return f"{top}; all cells {sum(t for t, _, _ in timed):.0f} s (the rest: kernel start, exit)"


def test_every_lesson_uses_the_exercise_api():
    missing = [p.stem for p in LESSONS if "from labs.exercises import" not in p.read_text()]
    assert not missing, f"{missing} make no exercise with labs.exercises"


@pytest.mark.brokers
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_run_all_shows_no_answer_and_each_exercise_checks(path: Path):
    nb, seconds = _run(path)
    print(f"{path.stem}: executed in {seconds:.0f} s")
    probe = [c for c in nb.cells if TAG in c.metadata.get("tags", [])]
    lines = [t for c in probe for t in _texts(c) for t in t.splitlines()]
    rows = json.loads(next(t for t in lines if t.startswith("EXERCISES "))[len("EXERCISES ") :])
    assert rows, f"{path.stem} makes no exercise: build one with labs.exercises (see its module)"

    lesson = [(i, t) for i, c in enumerate(nb.cells) if c not in probe for t in _texts(c)]
    said_correct = sorted({i for i, t in lesson if re.search(r"\bCorrect\b", t)})
    assert not said_correct, f"{path.stem}: cells {said_correct} print 'Correct' on Run All"
    unanswered = sum(t.count("Not answered yet") for _, t in lesson)
    assert unanswered >= len(rows), f"{path.stem}: an exercise cell did not check `...`"
    for row in rows:
        key = row["key"]
        forms = _leak_forms(row["expected"])
        leaks = sorted({(i, f) for i, t in lesson for f in forms if _token(f).search(t)})
        assert not leaks, f"{key}: the expected value is printed on Run All (cell, form): {leaks}"
        assert row["unanswered"].startswith("Not answered yet"), (key, row["unanswered"])
        assert row["solution_correct"] and row["solution"].startswith("Correct"), (
            key,
            row["solution"],
        )
        assert not row["wrong_correct"] and row["wrong"].startswith("Not quite"), (
            key,
            row["wrong"],
        )
        assert not any(_token(f).search(row["wrong"]) for f in forms), (key, row["wrong"])

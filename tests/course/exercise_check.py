"""Run All gives no answer away, and every exercise checks right, wrong and unanswered.

The lessons' one execution (nbval's, ``make nbval``) serves this check too: the copies nbval
runs (:mod:`tests.course.nbval_references` ``prepare``) end with :data:`PROBE`, a cell tagged
``exercise-test`` that reads, in the kernel that ran the lesson, every exercise the lesson
made (:func:`labs.exercises.created`) and prints, as JSON, its expected value and the
verdicts for ``...``, for its ``solution`` and for an answer derived to be wrong. After the
lesson's last cell, :mod:`tests.course.nbval_exercises` hands what every cell printed to
:func:`check_lesson`, which asserts:

- the lesson made at least one exercise;
- no output of the lesson's own cells contains ``Correct`` (a verdict that gives the answer
  away) or the expected value as it could be printed (see :func:`leak_forms`);
- each exercise cell did check the learner's placeholder: "Not answered yet" is printed;
- ``...`` is "Not answered yet", the solution is correct, the wrong answer is "Not quite"
  and its verdict does not show the expected value either.

The leak rule: numbers only (booleans and strings are words a lesson uses by design; the
"Correct" check catches a verdict that shows them). For a number, the forms searched are the
verdict's rounded form (:func:`labs.exercises.shown`) and the forms a cell would print
(``str``/``repr``, one and two decimals, the rounded integer, thousands separators, a
fraction's percent), each as a whole token (not inside a longer number). A form with fewer
than 3 significant digits (0, 1, 7, 0.5, 12, 100, 1,500 ...) is not searched: such a number
appears in any lesson's output by chance, so only the "Correct" check can guard it.

>>> sorted(leak_forms(0.0248))
['0.0248', '2.48%']
>>> sorted(leak_forms({"a": 1536, "b": True})), sorted(leak_forms(100)), sorted(leak_forms(100.5))
(['1,536', '1536'], [], ['100.5', '100.50'])
>>> bool(token("150").search("1500 lost")), bool(token("150").search("150 lost"))
(False, True)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

import nbformat

#: The tag of the probe cell appended to a lesson's nbval copy.
TAG = "exercise-test"
#: The prefix of the probe's one line of JSON.
MARK = "EXERCISES "

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


def probe_cell() -> nbformat.NotebookNode:
    """The probe as a code cell, tagged so that :func:`is_probe` finds it."""
    return nbformat.v4.new_code_cell(PROBE, metadata={"tags": [TAG]})


def is_probe(cell: Mapping) -> bool:
    return TAG in cell.get("metadata", {}).get("tags", [])


def _significant_digits(form: str) -> int:
    """Digits that carry information: not the leading zeros, nor a whole number's trailing
    ones (100 and 1,500 are round numbers any output may print: a lesson 15 run lost
    exactly 100 acknowledged writes, 1,000/s x 100 ms, and "100" stood in the question's
    own "100 ms" and in an unrelated "keep the newest 100")."""
    digits = form.replace("-", "").replace(",", "").replace("%", "")
    if "." not in digits:
        digits = digits.rstrip("0") or "0"
    return len(digits.replace(".", "").lstrip("0"))


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


def leak_forms(expected) -> set[str]:
    """The printed forms of ``expected`` searched in the lesson's outputs (see the module)."""
    if isinstance(expected, bool | str) or expected is None:
        return set()
    if isinstance(expected, int | float):
        return _number_forms(expected)
    if isinstance(expected, dict):
        return set().union(*(leak_forms(v) for v in expected.values()))
    if isinstance(expected, list):
        return set().union(*(leak_forms(v) for v in expected))
    return set()


def token(form: str) -> re.Pattern[str]:
    """``form`` as a whole token: not inside a longer number."""
    return re.compile(rf"(?<![\d.,]){re.escape(form)}(?![\d]|[.,]\d)")


def texts(outputs: Sequence[Mapping]) -> list[str]:
    """Everything a cell printed or displayed as text (images and widget views left out)."""
    out = []
    for o in outputs:
        if o.get("output_type") == "stream":
            out.append(o.get("text", ""))
        elif o.get("output_type") == "error":
            out.append("\n".join(o.get("traceback", [])))
        else:
            for mime, data in o.get("data", {}).items():
                if mime.startswith("text/"):
                    out.append(data if isinstance(data, str) else "".join(data))
    return out


def check_lesson(name: str, lesson: Sequence[tuple[int, str]], probe: Sequence[str]) -> int:
    """Assert the module's rules; ``lesson``: (cell number, text) of the lesson's own cells,
    ``probe``: what the probe cell printed. Returns how many exercises were checked."""
    lines = [ln for t in probe for ln in t.splitlines()]
    found = next((ln for ln in lines if ln.startswith(MARK)), None)
    assert found is not None, f"{name}: the exercise probe printed nothing: {probe}"
    rows = json.loads(found[len(MARK) :])
    assert rows, f"{name} makes no exercise: build one with labs.exercises (see its module)"

    said_correct = sorted({i for i, t in lesson if re.search(r"\bCorrect\b", t)})
    assert not said_correct, f"{name}: cells {said_correct} print 'Correct' on Run All"
    unanswered = sum(t.count("Not answered yet") for _, t in lesson)
    assert unanswered >= len(rows), f"{name}: an exercise cell did not check `...`"
    for row in rows:
        key = row["key"]
        forms = leak_forms(row["expected"])
        leaks = sorted({(i, f) for i, t in lesson for f in forms if token(f).search(t)})
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
        assert not any(token(f).search(row["wrong"]) for f in forms), (key, row["wrong"])
    return len(rows)

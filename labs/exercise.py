"""Exercise checks for the notebooks: compare a learner's answer with a value a run produced.

A notebook asks a question, the learner writes ``answer = ...``, and :func:`check` says
whether it is right -- against a number the simulator or a real broker just produced, never
a value typed into the notebook.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: right or not, and a sentence for the learner."""

    correct: bool
    message: str

    def __str__(self) -> str:
        return self.message

    def _repr_markdown_(self) -> str:
        return ("✅ " if self.correct else "❌ ") + self.message


def check(answer: Any, expected: Any, *, rel_tol: float = 0.0, hint: str = "") -> Verdict:
    """Compare ``answer`` with ``expected`` (numbers within ``rel_tol``, else equality).

    ``...`` (the placeholder in an exercise cell) counts as "not answered yet".
    """
    if answer is ... or (isinstance(answer, dict) and ... in answer.values()):
        return Verdict(False, "Not answered yet: replace `...` with your answer and run again.")
    if isinstance(expected, dict) and isinstance(answer, dict):
        wrong = [k for k in expected if not _close(answer.get(k), expected[k], rel_tol)]
        if not wrong:
            return Verdict(True, f"Correct: {expected}.")
        return Verdict(False, f"Not quite: check {', '.join(map(str, wrong))}. {hint}".strip())
    if _close(answer, expected, rel_tol):
        return Verdict(True, f"Correct: {expected}.")
    return Verdict(False, f"Not quite: your answer was {answer!r}. {hint}".strip())


def _close(a: Any, b: Any, rel_tol: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(a - b) <= rel_tol * max(abs(b), 1e-12) if rel_tol else a == b
    return a == b

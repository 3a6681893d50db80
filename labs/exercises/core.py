"""Exercises that ask for a prediction first: the expected value stays hidden until earned.

A lesson builds an :class:`Exercise` from its scenario or lab (a library function does it,
so the expected value is never computed in plain sight), the learner writes ``answer = ...``
and runs ``ex.check(answer)``. The expected value is computed lazily -- only inside
:meth:`Exercise.check` (once an answer is given) or :meth:`Exercise.reveal` -- and cached
per exercise. A :class:`Verdict` shows it only when the answer is right; a wrong answer
gets the learner's own answer and the hint back, never the expected value. ``reveal()`` is
the only other place it appears, with the worked reasoning.

Every exercise created is recorded (the latest per key) so a test can ask, inside the
kernel that ran a lesson, which exercises it made: :func:`created`.

>>> ex = Exercise("doc-double", "What is twice 21?", lambda: 2 * 21, solution=42,
...               explanation="Twice 21 is 42.")
>>> print(ex.check(...))
Not answered yet: replace `...` with your answer and run the cell again.
>>> print(ex.check(40))
Not quite: your answer was 40.
>>> print(ex.check(42))
Correct: 42.
>>> shown(0.024829526139325302), shown(45123.7), shown(3)
('0.0248', '45100', '3')
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labs.stack.config import learner

__all__ = ["Exercise", "Reveal", "Verdict", "created", "for_learner", "shown"]

#: Significant digits of a number in a verdict or a reveal.
DIGITS = 3

NOT_ANSWERED = "Not answered yet: replace `...` with your answer and run the cell again."

_CREATED: dict[str, Exercise] = {}


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: ``answered``, ``correct`` and one sentence for the learner.

    The sentence starts with a word that says it all ("Correct", "Not quite", "Not
    answered yet"), so it reads without the emoji in front of it (no emoji font needed).
    """

    answered: bool
    correct: bool
    message: str

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return self.message

    def _repr_markdown_(self) -> str:
        mark = "✅" if self.correct else ("❌" if self.answered else "✏️")
        return f"{mark} {self.message}"


@dataclass(frozen=True)
class Reveal:
    """An exercise's worked reasoning and its expected value, as markdown."""

    explanation: str
    answer: str

    def __str__(self) -> str:
        return f"{self.explanation}\n\nAnswer: {self.answer}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        return f"{self.explanation}\n\n**Answer:** {self.answer}"


@dataclass(frozen=True, eq=False, repr=False)
class Exercise:
    """One question, the hidden computation of its answer, and the reasoning behind it.

    ``expected`` is called at most once (the first ``check`` of a real answer, or
    ``reveal``); ``solution`` is what a learner reaches by reasoning (theory) and checks as
    correct; numbers count as right within ``rel_tol`` of the expected value (0: exactly).
    Dicts compare key by key, lists and tuples item by item; strings ignore case and the
    spaces around them.
    """

    key: str
    question: str
    expected: Callable[[], Any]
    solution: Any
    explanation: str
    rel_tol: float = 0.0
    hint: str = ""
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key.strip():
            raise ValueError(f"key must be a non-empty string, got {self.key!r}")
        if not callable(self.expected):
            raise ValueError(
                f"expected must be a callable returning the value, got {self.expected!r}"
            )
        if not isinstance(self.rel_tol, int | float) or not 0 <= self.rel_tol < 1:
            raise ValueError(f"rel_tol must be in [0, 1), got {self.rel_tol!r}")
        _CREATED.pop(self.key, None)  # re-running a cell: the newest one counts, in run order
        _CREATED[self.key] = self

    def expected_value(self) -> Any:
        """The expected value, computed on the first call and cached (for check, reveal, tests)."""
        if "value" not in self._cache:
            self._cache["value"] = self.expected()
        return self._cache["value"]

    def check(self, answer: Any) -> Verdict:
        """Compare ``answer`` with the expected value; ``...`` anywhere means not answered."""
        if _unanswered(answer):
            return Verdict(False, False, NOT_ANSWERED)
        expected = self.expected_value()
        if isinstance(expected, Mapping):
            if not isinstance(answer, Mapping):
                return self._wrong(f"your answer was {answer!r}, not a dict with the keys")
            wrong = [
                k
                for k in expected
                if k not in answer or not _close(answer[k], expected[k], self.rel_tol)
            ]
            if wrong:
                return self._wrong(f"check {', '.join(map(str, wrong))}")
            return Verdict(True, True, f"Correct: {shown(expected)}.")
        if _close(answer, expected, self.rel_tol):
            return Verdict(True, True, f"Correct: {shown(expected)}.")
        return self._wrong(f"your answer was {answer!r}")

    def reveal(self) -> Reveal:
        """The worked reasoning and the expected value (the one other place it is shown)."""
        return Reveal(self.explanation, shown(self.expected_value()))

    def _wrong(self, what: str) -> Verdict:
        tol = f" (within {self.rel_tol:.0%} counts as right)" if self.rel_tol else ""
        return Verdict(True, False, f"Not quite: {what}{tol}. {self.hint}".strip())

    def __repr__(self) -> str:
        tol = f" Within {self.rel_tol:.0%} counts as right." if self.rel_tol else ""
        return f"Exercise {self.key}: {self.question}{tol}"

    def _repr_markdown_(self) -> str:
        tol = f" Within {self.rel_tol:.0%} counts as right." if self.rel_tol else ""
        return f"**Exercise** ({self.key}): {self.question}{tol}"


def created() -> tuple[Exercise, ...]:
    """Every exercise created in this process, the newest per key, in the order created."""
    return tuple(_CREATED.values())


def for_learner(key: str, choices: Sequence[Any]) -> Any:
    """One of ``choices``, fixed for this learner (``COURSE_LEARNER``) and exercise ``key``.

    So neighbours get different numbers, while one learner gets the same ones on every run.

    >>> for_learner("doc", [7]) == 7
    True
    """
    if not choices:
        raise ValueError("choices must hold at least one value")
    digest = hashlib.sha256(f"{learner()}/{key}".encode()).digest()
    return choices[int.from_bytes(digest[:8], "big") % len(choices)]


def shown(value: Any) -> str:
    """``value`` as a verdict prints it: floats to 3 significant digits, without exponent."""
    if isinstance(value, bool | str) or not isinstance(value, numbers.Real):
        if isinstance(value, Mapping):
            return ", ".join(f"{k}: {shown(v)}" for k, v in value.items())
        if isinstance(value, list | tuple):
            return "(" + ", ".join(shown(v) for v in value) + ")"
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    rounded = float(f"{value:.{DIGITS}g}")
    if rounded.is_integer() and abs(rounded) < 1e15:
        return str(int(rounded))
    # the shortest digits that read back as ``rounded``: 27.6, not 27.600000000000001
    return np.format_float_positional(rounded, trim="-")


def _unanswered(answer: Any) -> bool:
    if answer is ...:
        return True
    if isinstance(answer, Mapping):
        return any(_unanswered(v) for v in answer.values())
    if isinstance(answer, list | tuple):
        return any(_unanswered(v) for v in answer)
    return False


def _close(a: Any, b: Any, rel_tol: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, numbers.Real) and isinstance(b, numbers.Real):
        if not rel_tol:
            return float(a) == float(b)
        return abs(float(a) - float(b)) <= rel_tol * max(abs(float(b)), 1e-12)
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().casefold() == b.strip().casefold()
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_close(x, y, rel_tol) for x, y in zip(a, b, strict=True))
    return a == b

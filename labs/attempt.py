"""An experiment that later notebook cells depend on, without a cascade of NameErrors.

A lesson runs one expensive experiment in one cell and reads its result in many later cells.
If that cell fails (a broker down, a cluster that did not recover), every later cell used to
fail too, with ``NameError: name 'results' is not defined`` -- which hides the one reason
that matters. :class:`Attempt` keeps the reason::

    durability = Attempt("compare", compare, schedule="frozen-followers-short")
    results = durability.run()          # raises as before if the experiment fails
    ...
    if durability.ran():                # later cells: False, and prints why, if it failed
        print(results["acks=1"].summary())

``ran()`` prints ``compare did not run: StackError: <its message>`` (or ``... did not run:
its cell has not been run yet``) and returns False; :attr:`Attempt.value` raises
:class:`NotRun` with the same line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class NotRun(RuntimeError):
    """The value of an experiment that failed or was never run was asked for."""


class Attempt(Generic[T]):
    """One call of ``fn(**kwargs)``, made by :meth:`run`, with its value or its failure."""

    def __init__(self, name: str, fn: Callable[..., T], /, **kwargs: Any) -> None:
        self.name, self.fn, self.kwargs = name, fn, kwargs
        self._value: T | None = None
        self._done = False
        self.error: BaseException | None = None

    def run(self) -> T:
        """Call the experiment; return its value. A failure is kept (see :attr:`reason`) and
        raised again, so the cell that ran it fails as it would have without this wrapper."""
        self._value, self._done, self.error = None, False, None
        try:
            self._value = self.fn(**self.kwargs)
        except BaseException as exc:
            self.error = exc
            raise
        self._done = True
        return self._value

    @property
    def ok(self) -> bool:
        """True once :meth:`run` returned."""
        return self._done

    @property
    def reason(self) -> str:
        """Why there is no value: the exception's type and first line, or not run yet."""
        if self._done:
            return ""
        if self.error is None:
            return "its cell has not been run yet"
        text = str(self.error).strip().splitlines()
        return f"{type(self.error).__name__}: {text[0]}" if text else type(self.error).__name__

    def message(self) -> str:
        return f"{self.name} did not run: {self.reason}"

    def ran(self) -> bool:
        """True if the experiment ran; otherwise print why not and return False."""
        if not self._done:
            print(self.message())
        return self._done

    @property
    def value(self) -> T:
        """The experiment's value; :class:`NotRun` (saying why) if there is none."""
        if not self._done:
            raise NotRun(self.message())
        return self._value  # type: ignore[return-value]

    def __repr__(self) -> str:
        state = "ran" if self._done else f"did not run: {self.reason}"
        return f"Attempt({self.name!r}, {state})"

"""Progress for the waits a learner sees: one policy for notebooks, terminals and CI logs.

An operation that can take more than a couple of seconds (a sweep, a benchmark run, a real
lab, a twin, the cluster starting) runs inside :func:`task`. With a ``total`` it counts
(messages sent, runs, learners); without one it shows its elapsed time and what it waits
for. A task opened inside another one without a ``total`` is a step of it: the open bar
says ``outer: step`` while the step lasts. A counted task inside another one gets a bar of
its own below it.

Where it goes, decided when a bar opens (:func:`mode`):

- ``"notebook"`` -- in a Jupyter kernel with ipywidgets: ``tqdm``'s widget bar;
- ``"terminal"`` -- when standard error is a terminal: ``tqdm``'s text bar on stderr;
- ``"lines"`` -- otherwise (CI, ``pytest``'s capture, a pipe): no bar and no control
  characters, only a plain line on stderr for a task still running after
  :data:`FIRST_LINE_S` seconds, then every :data:`LINE_EVERY_S` seconds, and one when it
  ends (if it printed one before);
- ``"off"`` -- with ``COURSE_PROGRESS=0`` in the environment, or inside :func:`silenced`
  (the command lines' ``--json``).

``COURSE_PROGRESS`` also takes ``lines`` (plain lines even on a terminal) and ``bar``
(a text bar even when stderr is not a terminal).

The code that is waited on only stores numbers (:meth:`Task.advance`, :meth:`Task.set`): a
background thread draws at most :data:`TERMINAL_HZ` times a second, so a hot loop pays an
attribute update, never a redraw. Progress reads nothing the work computes and draws no
random numbers: with or without it, the same seed gives the same result. Every bar is
closed when its ``with`` block ends, also on an error (a notebook bar then turns red and
stays); a notebook bar that ended well leaves nothing behind (its output is emptied: a closed
widget would stay in the saved notebook as a view with no model).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

#: The environment variable that turns progress off (``0``) or picks a kind.
ENV = "COURSE_PROGRESS"
OFF_VALUES = frozenset({"0", "off", "false", "no", "none"})
BAR_VALUES = frozenset({"1", "on", "true", "yes", "bar"})
MODES = ("off", "lines", "terminal", "notebook")
#: Redraws per second of a terminal bar, and of a notebook bar (each is a widget message).
TERMINAL_HZ = 5.0
NOTEBOOK_HZ = 2.0
#: Plain-line mode: the first line after this many seconds, then one every ``LINE_EVERY_S``.
FIRST_LINE_S = 10.0
LINE_EVERY_S = 30.0

_lock = threading.RLock()
_silenced = 0
_open: list[Task] = []  # the open tasks, outermost first
_owner_pid = os.getpid()


def mode() -> str:
    """Where progress goes now: ``"off"``, ``"lines"``, ``"terminal"`` or ``"notebook"``."""
    wanted = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if wanted not in OFF_VALUES | BAR_VALUES | {"lines", "auto"}:
        raise ValueError(
            f"{ENV} must be 0 (no progress), lines (plain lines), bar (a text bar even "
            f"without a terminal) or auto (the default), got {os.environ[ENV]!r}."
        )
    if _silenced or wanted in OFF_VALUES:
        return "off"
    if wanted == "lines":
        return "lines"
    if _in_notebook():
        return "notebook"
    if wanted in BAR_VALUES:
        return "terminal"
    stream = sys.stderr
    try:
        tty = stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        tty = False
    return "terminal" if tty else "lines"


def _in_notebook() -> bool:
    """True in a Jupyter kernel whose tqdm draws ipywidgets (what ``tqdm.auto`` picks)."""
    if "ipykernel" not in sys.modules:
        return False
    from tqdm.auto import tqdm as auto
    from tqdm.notebook import tqdm as notebook

    return issubclass(auto, notebook)


@contextlib.contextmanager
def silenced(when: bool = True) -> Iterator[None]:
    """No progress at all inside this block (``when`` false: no change). The command lines
    wrap their work in it under ``--json``."""
    global _silenced
    with _lock:
        _silenced += bool(when)
    try:
        yield
    finally:
        with _lock:
            _silenced -= bool(when)


class Task:
    """One operation being waited for. The waited-on code calls :meth:`advance` or
    :meth:`set` (cheap: a number is stored) and :meth:`waiting_for`."""

    def __init__(self, what: str, total: int | None, unit: str, parent: Task | None = None):
        self.what = what
        self.total = total
        self.unit = unit
        self.n = 0
        self.doing: str | None = None  # what it waits for now (:meth:`waiting_for`)
        self.parent = parent  # the task whose bar shows this step
        self.steps: list[Task] = []  # steps open inside this task, innermost last
        self.started = time.monotonic()
        self._bar: _Bar | None = None

    def advance(self, k: int = 1) -> None:
        self.n += k

    def set(self, n: int) -> None:
        self.n = n

    def waiting_for(self, what: str | None) -> None:
        """Say what the task waits for now (None: nothing in particular)."""
        self.doing = what

    def describe(self) -> str:
        """``what: doing``, where ``doing`` is the innermost open step's."""
        tail = self.doing
        if self.steps:
            step = self.steps[-1]
            tail = step.doing or step.what
        return f"{self.what}: {tail}" if tail else self.what

    def elapsed_s(self) -> float:
        return time.monotonic() - self.started


def write(line: str) -> None:
    """Print ``line`` on stderr above any open terminal bar (which is drawn again below it)."""
    with _lock:
        if any(t._bar is not None and t._bar.kind == "terminal" for t in _open):
            from tqdm import tqdm

            tqdm.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)


def current() -> Task | None:
    """The innermost open task that draws, or None."""
    with _lock:
        return next((t for t in reversed(_open) if t._bar is not None), None)


@contextlib.contextmanager
def task(what: str, total: int | None = None, unit: str = "") -> Iterator[Task]:
    """Show progress for the block; yields the :class:`Task` to update. Inside an open bar
    a task without ``total`` is a :func:`step` of it. Usable as a decorator too
    (``@task("loss lab on the real brokers")``)."""
    if total is not None and (isinstance(total, bool) or int(total) < 0):
        raise ValueError(f'"total" must be a non-negative integer or None, got {total!r}.')
    _forget_after_fork()
    if total is None and current() is not None:
        with step(what) as inner:
            yield inner
        return
    t = Task(what, None if total is None else int(total), unit)
    chosen = mode()
    with _lock:
        below = sum(x._bar is not None for x in _open)  # bars already open above this one
        _open.append(t)
    ok = False
    try:
        if chosen != "off":
            t._bar = _Bar(t, chosen, position=below)
        yield t
        ok = True
    finally:
        try:
            if t._bar is not None:
                t._bar.close(ok)
        finally:
            with _lock:
                if t in _open:
                    _open.remove(t)


@contextlib.contextmanager
def step(what: str) -> Iterator[Task]:
    """While the block runs, the innermost open bar says ``its task: what``; without an
    open bar nothing is shown (and nothing is started: cheap enough for every wait)."""
    outer = current()
    t = Task(what, None, "", parent=outer)
    if outer is None:
        yield t
        return
    outer.steps.append(t)
    try:
        yield t
    finally:
        with contextlib.suppress(ValueError):
            outer.steps.remove(t)


def _forget_after_fork() -> None:
    """A forked worker (a sweep's process pool) does not draw its parent's bars."""
    global _owner_pid
    if os.getpid() != _owner_pid:
        with _lock:
            _open.clear()
            _owner_pid = os.getpid()


# --------------------------------------------------------------------------- drawing


class _Bar:
    """What draws one task: a tqdm bar (terminal or notebook) or plain lines, refreshed
    by a daemon thread until :meth:`close`."""

    def __init__(self, task: Task, kind: str, position: int) -> None:
        self.task, self.kind = task, kind
        self.stop = threading.Event()
        self.lines_printed = 0
        self.tqdm: Any = None
        self.shown: Any = None  # a notebook bar's display, emptied when the task succeeds
        if kind in ("terminal", "notebook"):
            self.tqdm = _tqdm(task, kind, position)
        if kind == "notebook":
            from IPython.display import display

            self.shown = display(self.tqdm.container, display_id=True)
        hz = {"terminal": TERMINAL_HZ, "notebook": NOTEBOOK_HZ}.get(kind, 1.0)
        self.thread = threading.Thread(
            target=self._tick, args=(1.0 / hz,), name=f"progress: {task.what}", daemon=True
        )
        self.thread.start()

    def _tick(self, every_s: float) -> None:
        while not self.stop.wait(every_s):
            with contextlib.suppress(Exception):  # drawing never breaks the work
                self.draw()

    def draw(self) -> None:
        t = self.task
        if self.tqdm is not None:
            with _lock:
                self.tqdm.n = t.n
                self.tqdm.set_description_str(t.describe(), refresh=False)
                self.tqdm.refresh()
            return
        due = FIRST_LINE_S + LINE_EVERY_S * self.lines_printed
        if t.elapsed_s() >= due:
            self.line("")
            self.lines_printed += 1

    def line(self, end: str) -> None:
        t = self.task
        count = f" {t.n}/{t.total}{' ' + t.unit if t.unit else ''}," if t.total else ""
        print(f"{t.describe()}:{count} {t.elapsed_s():.0f} s{end}", file=sys.stderr, flush=True)

    def close(self, ok: bool) -> None:
        self.stop.set()
        self.thread.join(2.0)
        if self.tqdm is not None:
            with _lock:
                self.tqdm.n = self.task.n
                if not ok and self.kind == "terminal":
                    self.tqdm.leave = True  # what it was doing stays on screen
                self.tqdm.close()
            if ok and self.shown is not None:
                # a closed widget would stay in the notebook as a dead view: leave nothing
                self.shown.update({"text/plain": ""}, raw=True)
        elif self.lines_printed:
            self.line(", done" if ok else ", stopped by an error")


def _tqdm(task: Task, kind: str, position: int) -> Any:
    if kind == "notebook":
        bar = _notebook_bar()
    else:
        from tqdm import tqdm as bar
    counted = "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit} [{elapsed}<{remaining}]"
    waiting = "{desc} [{elapsed}]"
    return bar(
        total=task.total,
        desc=task.describe(),
        unit=task.unit or "it",
        bar_format=counted if task.total is not None else waiting,
        file=sys.stderr,
        leave=False,
        **({"display": False} if kind == "notebook" else {}),  # shown by _Bar (emptied on success)
        position=position if kind == "terminal" else None,
        dynamic_ncols=True,
        mininterval=1.0 / TERMINAL_HZ,
    )


@functools.cache
def _notebook_bar() -> type:
    """tqdm's widget bar whose plain-text form (what a notebook keeps beside the widget, and
    shows where widgets cannot render) names the task only: no count or time that changes
    from run to run, and no number that could be mistaken for a lesson's result."""
    from tqdm.notebook import TqdmHBox
    from tqdm.notebook import tqdm as notebook_tqdm

    class Box(TqdmHBox):
        def __repr__(self, pretty: bool = False) -> str:
            bar = getattr(self, "pbar", None)
            return f"[progress: {bar.desc}]" if bar is not None else super().__repr__()

    class Bar(notebook_tqdm):
        @staticmethod
        def status_printer(*args: Any, **kwargs: Any) -> Any:
            box = notebook_tqdm.status_printer(*args, **kwargs)
            box.__class__ = Box  # the same widget, with the plain text above
            return box

    return Bar


__all__ = ["ENV", "MODES", "Task", "current", "mode", "silenced", "step", "task", "write"]

"""How long a lab's process could not run: the stalls a loaded machine adds to its timings.

A :class:`StallMeter` is a thread that sleeps :data:`TICK_S` again and again and records
how late it wakes up. A wake-up later than :data:`STALL_S` means that, for that long, none
of the process's threads could run when they were due: the machine's cores were busy with
other processes (a workshop of learners on two cores) or another thread held the GIL. Every
step of a lab's timed chain -- a member's poll loop, a heartbeat, a callback -- is delayed
by such a stall, so a twin that compares a time measured on the real broker with the
simulator widens its tolerance by the stalled time measured in the same window, and says so.

Lateness up to :data:`STALL_S` is ordinary (the interpreter switches threads every 5 ms) and
is not counted, so on a quiet machine the meter reads 0 and tolerances stay as documented.

>>> from labs.recording import Clock
>>> with StallMeter(Clock()) as meter:
...     pass
>>> meter.stalled_between(0.0, 1.0) >= 0.0
True
"""

from __future__ import annotations

import threading
import time

from labs.recording import Clock

#: How often the meter wakes up (s).
TICK_S = 0.01
#: Lateness above this counts as a stall (s): four of the interpreter's 5 ms switch intervals.
STALL_S = 0.02


class StallMeter:
    """Records ``(run time, lateness)`` of every late wake-up while it runs (a context manager)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.stalls: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stall-meter", daemon=True)

    def __enter__(self) -> StallMeter:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(1.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = self.clock.now()
            time.sleep(TICK_S)
            late = self.clock.now() - t0 - TICK_S
            if late > STALL_S:
                self.stalls.append((t0, late))

    def stalled_between(self, start: float, end: float) -> float:
        """Seconds stalled in late wake-ups that began within ``[start, end]``."""
        return float(sum(late for t, late in list(self.stalls) if start <= t <= end))


__all__ = ["STALL_S", "TICK_S", "StallMeter"]

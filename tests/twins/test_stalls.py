"""The stall meter sees a stall of the process, in the window where it happened."""

from __future__ import annotations

import sys
import time

from labs.recording import Clock
from labs.stalls import StallMeter


def _hold_the_interpreter(seconds: float) -> float:
    """Keep every other thread of this process from running for about ``seconds``."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(seconds)  # no thread switch while this thread computes
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            pass
        return time.monotonic() - t0
    finally:
        sys.setswitchinterval(before)


def test_a_stall_is_measured_in_its_window():
    clock = Clock()
    with StallMeter(clock) as meter:
        time.sleep(0.1)
        start = clock.now()
        held = _hold_the_interpreter(0.3)
        end = clock.now()
        time.sleep(0.1)
    inside = meter.stalled_between(start - 0.05, end)
    # The meter's thread woke up at least ~0.3 s late (minus the tick it was asleep for).
    assert inside >= held - 0.05, (inside, held, meter.stalls)
    # ... and it is counted where it began, not before.
    assert meter.stalled_between(0.0, start - 0.05) < held / 2, meter.stalls

"""Steal time: the share of this machine's CPU time that its host gave to someone else.

On a virtual machine the hypervisor may run other guests on the physical cores behind this
one's vCPUs; Linux counts the time a vCPU was ready but not running as *steal* (the 8th
field of the ``cpu`` line of ``/proc/stat``, see ``man 5 proc``). A latency measurement
taken while the host steals a few per cent is a measurement of the host as much as of the
client: a vCPU that is not running delays every message due meanwhile, by milliseconds.
:class:`StealMeter` measures the share over an interval, so a result can say so.

>>> meter = StealMeter()
>>> share = meter.share()
>>> share != share or 0.0 <= share <= 1.0  # NaN where /proc/stat is missing (macOS)
True
>>> steal_share((100, 0, 50, 800, 0, 0, 0, 50), (200, 0, 100, 1600, 0, 0, 0, 100))
0.05
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: Where Linux keeps the CPU time counters.
PROC_STAT = "/proc/stat"
#: Results say the host's steal share from this much of the CPU time. On a 2-vCPU cloud
#: machine: 0.3-1.1 % in idle samples; a throughput twin run at 4.7 % had one of its three
#: Pub/Sub sweeps at p99 8.8 ms at 1,000 msg/s, against 0.8 and 1.9 ms in the other two.
STEAL_NOTE = 0.02
#: The index of steal among the ``cpu`` line's counters (user nice system idle iowait irq
#: softirq steal ...).
STEAL = 7


def cpu_times(path: str = PROC_STAT) -> tuple[int, ...] | None:
    """The aggregate ``cpu`` line's counters (clock ticks), ``None`` without ``/proc/stat``."""
    try:
        with open(path, encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if len(fields) <= STEAL + 1 or fields[0] != "cpu":
        return None
    # guest and guest_nice (fields 9-10) are counted inside user and nice already
    return tuple(int(x) for x in fields[1 : STEAL + 2])


def steal_share(before: Sequence[int] | None, after: Sequence[int] | None) -> float:
    """Steal over all CPU time between two readings of :func:`cpu_times` (NaN if either
    is missing or no time passed)."""
    if before is None or after is None:
        return math.nan
    delta = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(delta)
    return delta[STEAL] / total if total > 0 else math.nan


def stolen(share: float) -> bool:
    """The host took :data:`STEAL_NOTE` or more of the CPU time (an unknown share -- no
    ``/proc/stat`` -- counts as quiet: nothing can be told).

    >>> stolen(0.047), stolen(0.011), stolen(math.nan)
    (True, False, False)
    """
    return share >= STEAL_NOTE


def percents(shares: Sequence[float]) -> str:
    """Steal shares as a result prints them.

    >>> percents([0.004, 0.098])
    '0.4%, 9.8%'
    """
    return ", ".join(f"{x:.1%}" for x in shares)


class StealMeter:
    """The steal share since it was made (or last :meth:`restart`)."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self._start = cpu_times()

    def share(self) -> float:
        return steal_share(self._start, cpu_times())

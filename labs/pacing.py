"""A consumer paced at ``service_rate_per_s``: a FIFO server on a schedule, with batch sleeps.

A lab's Kafka consumer stands for an application that needs ``1 / service_rate_per_s``
seconds per record. It cannot sleep that long for each record: at 3,000 records/s that is a
third of a millisecond, and every ``time.sleep`` overshoots by tens to hundreds of
microseconds (more on a busy machine), so a per-record sleep loses a third of the rate or
more -- by an amount that changes from one second to the next.

:class:`Pacer` keeps the server's schedule instead: a record fetched at ``ready_at`` is done
at ``max(free_at, ready_at) + 1 / rate`` (the simulator's FIFO consumer with a constant
service time). The thread sleeps only when it is more than :data:`QUANTUM_S` ahead of that
schedule (then it sleeps until the record is due), so a late wake-up shortens the next
sleep rather than slowing the server down; a record is handed over (and recorded, at the
real clock) at most :data:`QUANTUM_S` before its scheduled completion. When the process
cannot keep up (the records cost more CPU than ``1 / rate``), the consumer runs as fast as
it can, and the calibration measures that rate.

>>> p = Pacer(1000.0)
>>> round(p.due(ready_at=10.0), 6), round(p.due(ready_at=10.0), 6)
(10.001, 10.002)
>>> round(p.due(ready_at=20.0), 6)  # idle in between: the schedule starts again
20.001
"""

from __future__ import annotations

#: The consumer sleeps only when it is more than this far ahead of its schedule (s): one
#: sleep per 2 ms of work at thousands of records/s, one per record below 500 records/s.
QUANTUM_S = 0.002


class Pacer:
    """The schedule of a consumer that needs ``1 / rate_per_s`` s per record (see the
    module docstring). :meth:`due` books one record; the caller sleeps
    :meth:`sleep_s` before it hands the record over."""

    def __init__(self, rate_per_s: float) -> None:
        if not rate_per_s > 0:
            raise ValueError(f'"service_rate_per_s" must be > 0, got {rate_per_s!r}.')
        self.per_msg = 1.0 / rate_per_s
        self.free_at = float("-inf")

    def due(self, ready_at: float) -> float:
        """Book a record fetched at ``ready_at``: its scheduled completion time."""
        self.free_at = max(self.free_at, ready_at) + self.per_msg
        return self.free_at

    @staticmethod
    def sleep_s(due: float, now: float) -> float:
        """How long to sleep before handing over a record due at ``due``: until ``due`` if
        that is more than :data:`QUANTUM_S` away, else not at all."""
        return due - now if due - now > QUANTUM_S else 0.0

    def reset(self) -> None:
        """Forget the schedule (a new member starts idle)."""
        self.free_at = float("-inf")

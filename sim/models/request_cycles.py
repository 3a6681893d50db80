"""Request cycles: the batching steps of a client after its send loop.

A Kafka producer's I/O thread sends one produce request at a time per partition, carrying
whatever accumulated while the previous one was under way; a consumer's fetch brings
whatever arrived since the last one. Each such stage works in *cycles*: a cycle takes every
message waiting and lasts a fixed time plus a time per message; its messages leave together
at its end (:func:`batched`, the batching law the send loop follows too,
:func:`sim.models.throughput.batch_departures`). Under a constant rate ``lambda`` a busy
stage's cycle is ``T = b + lambda T c``, i.e. ``T = b / (1 - lambda c)``: it lengthens with
the rate, and every message waits for the cycle under way (uniform up to ``T``), then its
own -- 1.5 cycles on average (:func:`cycles_delay_s`). The stage's ``b`` and ``c`` come from
how many messages a request carried (``T = k / lambda`` for a busy stage) at two loads
(:meth:`Cycle.from_batches`). The throughput model (:mod:`sim.models.throughput`) chains
them after the send loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.core.queue import departures
from sim.core.validation import check_number


def batched(
    arrivals: np.ndarray,
    *,
    per_batch_s: float,
    per_message_s: float,
    max_batch: int,
    cold_s: float = 0.0,
) -> np.ndarray:
    """When each message (``arrivals`` sorted) leaves a stage that takes every message
    arrived by the time it is free (at most ``max_batch``) and finishes them together,
    ``per_batch_s + k * per_message_s`` later -- plus ``cold_s`` when it was idle before.

    >>> batched(np.array([0.0, 0.0, 0.5]), per_batch_s=0.1, per_message_s=0.01, max_batch=8)
    array([0.12, 0.12, 0.61])
    """
    n = arrivals.size
    out = np.empty(n)
    free, i = -np.inf, 0
    while i < n:
        start = max(free, arrivals[i])
        cold = cold_s if arrivals[i] > free else 0.0  # it was idle: a cold wake-up
        j = min(max(int(np.searchsorted(arrivals, start, side="right")), i + 1), i + max_batch, n)
        free = start + per_batch_s + cold + (j - i) * per_message_s
        out[i:j] = free
        i = j
    return out


#: A stage batches at low rates when its requests carry at least this many messages on
#: average; below, each message has a request to itself and the stage's time is transit.
MIN_CYCLE_BATCH = 1.5


@dataclass(frozen=True)
class Cycle:
    """A stage after the send loop that works in request cycles: a Kafka producer's I/O
    thread (one produce request a cycle, for whatever accumulated meanwhile), a consumer's
    fetch or a subscriber's socket read (one receive call a cycle, for whatever arrived
    meanwhile). A cycle takes every message waiting (at most ``max_batch``) and lasts
    ``per_cycle_us + k * per_message_us``; its messages leave together at its end -- the
    send loop's batching law (:func:`batched`) with no cold wake-up. A message
    waits for the cycle under way, then its own. The low-rate latency already holds the
    mean of that at the rate it was measured at (:func:`cycles_delay_s`), which the model
    subtracts: what it adds is the growth of the cycles with the rate. Under a constant
    rate ``lambda`` a busy stage runs cycles of ``T = b / (1 - lambda c)``
    (:meth:`cycle_s`): ``b`` is a cycle's fixed time (round trip, waking), ``c`` how much
    longer a cycle gets for each message in it -- the GIL's time for every thread's share
    of that message, since the thread runs Python for each. On Kafka 4.1 with kafka-python
    3.0.12 and ``linger_ms=0`` (a 2-vCPU machine): a fetch carried 5-9 messages at 1,000
    msg/s (cycles of 5-7 ms, the same up to ~2,800 msg/s, then longer: 7.8 ms at 4,000, 9-14
    at 5,657, 16-25 at 8,000) and a produce request 2-3.5 (cycles of 2.1-2.5 ms, rising
    to 3-3.5 at 4,000-5,657). Without these cycles the model had Kafka's median flat where
    the real one rose 1.5-2x by 4,000 msg/s.

    >>> Cycle("fetch", per_cycle_us=5000.0, per_message_us=90.0).cycle_s(4000.0)
    0.0078125
    """

    name: str
    per_cycle_us: float
    per_message_us: float = 0.0
    max_batch: int = 100_000
    #: False: the stage works one message at a time (a FIFO server of ``per_cycle_us +
    #: per_message_us`` a message, :func:`sim.core.queue.departures`), not in cycles --
    #: the client process's one interpreter (:meth:`interpreter`).
    batches: bool = True

    def __post_init__(self) -> None:
        check_number(self, "per_cycle_us", 0.01 if self.batches else 0.0, 1e6)
        check_number(self, "per_message_us", 0.0, 1e6)
        check_number(self, "max_batch", 1, 100_000, integer=True)

    def cycle_s(self, rate_per_s: float) -> float:
        """The cycle of a busy stage at ``rate_per_s``, ``b / (1 - lambda c)`` (s)."""
        load = rate_per_s * 1e-6 * self.per_message_us
        return float("inf") if load >= 1.0 else 1e-6 * self.per_cycle_us / (1.0 - load)

    def drain_rate_per_s(self) -> float:
        """How fast the stage works off a backlog: full cycles, ``K / (b + K c)``."""
        k = self.max_batch
        return k / (1e-6 * (self.per_cycle_us + k * self.per_message_us))

    def departures(self, arrivals: np.ndarray) -> np.ndarray:
        """When each message (``arrivals`` sorted, s) leaves the stage."""
        if not self.batches:
            service = 1e-6 * (self.per_cycle_us + self.per_message_us)
            return departures(arrivals, np.full(arrivals.size, service))
        return batched(
            arrivals,
            per_batch_s=1e-6 * self.per_cycle_us,
            per_message_s=1e-6 * self.per_message_us,
            max_batch=self.max_batch,
        )

    @classmethod
    def interpreter(cls, cpu_us_per_message: float) -> Cycle:
        """The client process's one interpreter: every message costs the process's CPU per
        message (every thread's share, measured in a full burst) once, one message at a
        time, since one lock (the GIL) runs every thread's Python. Below its rate it adds
        a message's wait for those ahead of it in a batch; it bounds the process at
        ``1 / cpu`` (:meth:`drain_rate_per_s`) whichever thread has the most to do.

        >>> cpu = Cycle.interpreter(100.0)
        >>> round(cpu.drain_rate_per_s()), 1e3 * cpu.departures(np.array([0.0, 0.0, 0.01]))
        (10000, array([ 0.1,  0.2, 10.1]))
        """
        return cls("interpreter", 0.0, cpu_us_per_message, batches=False)

    @classmethod
    def from_batches(
        cls,
        name: str,
        *,
        low: Sequence[tuple[float, float]],
        busy: tuple[float, float],
        max_batch: int = 100_000,
    ) -> Cycle | None:
        """The stage from how many messages its requests carried, each ``(rate per s,
        messages per request)``: ``low`` at the calibration rates, ``busy`` in the burst.
        A busy stage's cycle is ``T = k / lambda`` and ``T = b + k c``: the line through the
        low-rate cycle (medians) and the burst's gives ``c`` (no less than 0) and ``b``.
        ``None`` when the low-rate requests carried fewer than :data:`MIN_CYCLE_BATCH`
        messages: the stage did not batch.

        >>> cyc = Cycle.from_batches("fetch", low=[(1000.0, 5.0), (2000.0, 10.0)],
        ...                          busy=(8000.0, 170.0))
        >>> round(cyc.per_cycle_us), round(cyc.per_message_us, 2)
        (4250, 100.0)
        >>> Cycle.from_batches("acks", low=[(1000.0, 1.0)], busy=(10_000.0, 64.0)) is None
        True
        """
        for what, v in [*(("low", x) for x in low), ("busy", busy)]:
            if not (len(v) == 2 and np.all(np.isfinite(v)) and v[0] > 0 and v[1] >= 1):
                raise ValueError(f'"{what}" must be (rate > 0, messages >= 1), got {v!r}.')
        if not low:
            raise ValueError('"low" needs at least one (rate, messages per request).')
        if float(np.median([k for _, k in low])) < MIN_CYCLE_BATCH:
            return None
        t_low = float(np.median([k / rate for rate, k in low]))
        k_low = float(np.median([k for _, k in low]))
        c = max((busy[1] / busy[0] - t_low) / max(busy[1] - k_low, 1.0), 0.0)
        return cls(name, 1e6 * max(t_low - k_low * c, 1e-8), 1e6 * c, max_batch)


def cycles_delay_s(cycles: Sequence[Cycle], rate_per_s: float) -> float:
    """The mean time a message spends in ``cycles`` (in order) under a constant rate: for
    a busy stage about ``1.5 T`` (the rest of the cycle under way, then its own). Computed,
    not approximated: a second of messages (at least 200) through the stages."""
    if not cycles:
        return 0.0
    n = max(200, int(rate_per_s))
    arrivals = np.arange(n) / rate_per_s
    out = arrivals
    for cyc in cycles:
        out = cyc.departures(out)
    return float(np.mean(out - arrivals))

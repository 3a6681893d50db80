"""Redis Streams: the middle ground between an ephemeral channel and a partitioned log.

XADD appends every message to one stream (no partitions), trimmed to ``MAXLEN`` entries
when set. A consumer group hands new entries to whichever member asks first
(XREADGROUP ``>`` with COUNT); a delivered entry sits in the group's pending entries list
(PEL) until the member XACKs it, which it does after processing the batch. A member that
crashes leaves its entries pending; every member runs XAUTOCLAIM periodically, taking
over entries idle for at least ``min_idle_ms`` and processing them again -- so entries
processed but not acknowledged before a crash are processed twice (at-least-once). An
entry delivered ``max_deliveries`` times without success (a poison message) is moved to
the dead-letter stream. Entries trimmed away before a group read them are lost to it.

Members are SimPy processes that wake once per XREADGROUP batch and once per XAUTOCLAIM
interval (plus a timeout per entry processed): streams are the teaching model here, not the
million-message benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import simpy

from sim.analysis.metrics import published_lag
from sim.analysis.result import Series
from sim.core import faults as fl
from sim.core.distributions import Service
from sim.core.faults import Fault
from sim.core.history import FAILED, OK, History, ReaderHistory
from sim.core.validation import check_choice, check_number, nested
from sim.core.workload import Messages
from sim.models.base import Collected, Model, RunContext, Running
from sim.models.dlq import dead_letter_reader

# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Stream:
    """A Redis stream: XADD with optional ``MAXLEN`` trimming (null = no trimming)."""

    maxlen: int | None = None
    network_delay_ms: float = 0.5

    def __post_init__(self) -> None:
        check_number(self, "maxlen", 1, 2**40, integer=True, optional=True)
        check_number(self, "network_delay_ms", 0.0, 1e6)


@dataclass(frozen=True)
class StreamGroup:
    """A Redis Streams consumer group.

    ``consumers`` members read ``count`` entries per XREADGROUP and XACK a batch after
    processing it. A crashed member's entries stay pending; every member runs XAUTOCLAIM
    every ``autoclaim_interval_ms`` for entries idle at least ``min_idle_ms``. An entry
    delivered ``max_deliveries`` times without success goes to the dead-letter stream:
    a poison one always, any other when each of its deliveries failed, as each does with
    ``failure_probability`` (a timeout, a flaky dependency). The group is created at
    ``join_at_s`` reading from the beginning (``start`` = ``earliest``, id 0) or only new
    entries (``latest``, id $).
    """

    consumers: int = 1
    count: int = 10
    service: Service = field(default_factory=lambda: Service("constant", 1.0))
    min_idle_ms: float = 5000.0
    autoclaim_interval_ms: float = 1000.0
    max_deliveries: int = 3
    join_at_s: float = 0.0
    start: str = "earliest"
    failure_probability: float = 0.0

    _NESTED: ClassVar = {"service": Service}

    def __post_init__(self) -> None:
        nested(self)
        check_number(self, "consumers", 1, 1000, integer=True)
        check_number(self, "count", 1, 1_000_000, integer=True)
        check_number(self, "min_idle_ms", 0.0, 1e9)
        check_number(self, "autoclaim_interval_ms", 1.0, 1e9)
        check_number(self, "max_deliveries", 1, 1000, integer=True)
        check_number(self, "join_at_s", 0.0, 1e8)
        check_number(self, "failure_probability", 0.0, 1.0)
        check_choice(self, "start", ("earliest", "latest"))


# --------------------------------------------------------------------------- simulation


class StreamLog:
    """The stream's entries in id order: message ``ids``, ``append`` and ``delete``
    (MAXLEN trimming) times."""

    def __init__(self, stream: Stream, msgs: Messages, ok: np.ndarray) -> None:
        self.ids = np.flatnonzero(ok)
        self.append = msgs.publish_time[self.ids] + stream.network_delay_ms / 1000.0
        self.delete = np.full(self.ids.size, np.inf)
        if stream.maxlen is not None and self.ids.size > stream.maxlen:
            self.delete[: -stream.maxlen] = self.append[stream.maxlen :]

    def end(self, t: float) -> int:
        return int(np.searchsorted(self.append, t, side="right"))

    def first_alive(self, t: float) -> int:
        return int(np.searchsorted(self.delete, t, side="right"))


def lost_to_maxlen(
    messages: int, rate_per_s: float, service_rate_per_s: float, maxlen: int | None
) -> float:
    """Entries a group reading at ``service_rate_per_s`` loses to ``MAXLEN`` trimming while
    ``messages`` are appended at ``rate_per_s``: it reads ``service_rate_per_s * T`` during
    the ``T = messages / rate_per_s`` seconds of appends, then the ``maxlen`` entries left;
    the rest was trimmed unread (none without ``maxlen``, or for a group that keeps up).

    >>> lost_to_maxlen(3000, 1000.0, 400.0, 200)
    1600.0
    >>> lost_to_maxlen(3000, 1000.0, 400.0, None)
    0.0
    """
    if maxlen is None:
        return 0.0
    read = service_rate_per_s * messages / rate_per_s
    return float(max(0.0, messages - read - maxlen))


def append_ok(msgs: Messages, faults: tuple[Fault, ...]) -> np.ndarray:
    """XADD succeeded (the server was up) for each message."""
    starts, ends = fl.windows(faults, ("broker_down",), ("stream",))
    return ~fl.inside(msgs.publish_time, starts, ends)


class StreamGroupSim:
    """One Redis Streams consumer group with SimPy member processes."""

    def __init__(
        self,
        env: simpy.Environment,
        index: int,
        sg: StreamGroup,
        log: StreamLog,
        msgs: Messages,
        faults: tuple[Fault, ...],
        rng: np.random.Generator,
        end_time: float,
    ) -> None:
        self.env, self.sg, self.log = env, sg, log
        self.name = f"stream-group:{index}"
        self.poison = msgs.poison
        self.service = sg.service.sample(rng, len(msgs))
        self.rng = rng  # per-delivery failures, drawn only when failure_probability > 0
        self.end_time = end_time
        self.next = 0  # last-delivered-id, as an index into the stream
        self.pel: dict[int, list] = {}  # entry index -> [owner, delivered_at, deliveries]
        self.ids: list[int] = []
        self.times: list[float] = []
        self.dead: list[int] = []
        self.dead_t: list[float] = []
        self.claimed = 0
        self.trimmed_pending = 0
        self.factor = np.ones(sg.consumers)
        self.procs: list = [None] * sg.consumers
        self.outages = [0] * sg.consumers
        self.start_index = 0
        env.process(self._create())
        for f in faults:
            if f.target_kind == "stream-group" and f.target_index[0] == index:
                env.process(fl.fault_process(env, f, self._on_start, self._on_end))

    def _create(self):
        yield self.env.timeout(self.sg.join_at_s)
        if self.sg.start == "latest":
            self.next = self.start_index = self.log.end(self.env.now)
        for c in range(self.sg.consumers):
            if self.procs[c] is None:
                self.procs[c] = self.env.process(self._member(c))

    def _on_start(self, f: Fault) -> None:
        c = f.target_index[1]
        if f.kind == "slow_consumer":
            self.factor[c] = f.factor
            return
        self.outages[c] += 1
        if self.outages[c] > 1:
            return  # overlapping outages of one consumer: the first one decides
        proc = self.procs[c]
        self.procs[c] = "down"
        if proc is not None and proc != "down" and proc.is_alive:
            proc.interrupt("crash")

    def _on_end(self, f: Fault) -> None:
        c = f.target_index[1]
        if f.kind == "slow_consumer":
            self.factor[c] = 1.0
            return
        self.outages[c] -= 1
        if self.outages[c] > 0:
            return
        if self.env.now >= self.sg.join_at_s:
            self.procs[c] = self.env.process(self._member(c))
        else:
            self.procs[c] = None

    def _autoclaim(self, c: int, now: float) -> list[int]:
        """XAUTOCLAIM: up to COUNT pending entries idle >= min_idle_ms; trimmed ones drop
        out of the PEL; entries delivered too often go to the dead-letter stream."""
        idle = self.sg.min_idle_ms / 1000.0
        out = []
        for e in sorted(self.pel):
            owner, at, n = self.pel[e]
            if now - at < idle:
                continue
            if self.log.delete[e] <= now:
                del self.pel[e]
                self.trimmed_pending += 1
                continue
            if n >= self.sg.max_deliveries:
                del self.pel[e]
                self.dead.append(int(self.log.ids[e]))
                self.dead_t.append(now)
                continue
            self.pel[e] = [c, now, n + 1]
            self.claimed += 1
            out.append(e)
            if len(out) >= self.sg.count:
                break
        return out

    def _read_new(self, c: int, now: float) -> list[int]:
        """XREADGROUP ``>``: up to COUNT entries after the last delivered one."""
        lo = max(self.next, self.log.first_alive(now))
        hi = min(self.log.end(now), lo + self.sg.count)
        out = list(range(lo, hi))
        for e in out:
            self.pel[e] = [c, now, 1]
        self.next = max(self.next, hi)
        return out

    def _member(self, c: int):
        env, sg = self.env, self.sg
        every = sg.autoclaim_interval_ms / 1000.0
        next_claim = env.now
        batch: list[int] = []
        done: list[int] = []
        try:
            while env.now < self.end_time:
                now = env.now
                batch = []
                if now >= next_claim:
                    batch = self._autoclaim(c, now)
                    next_claim = now + every
                if not batch:
                    batch = self._read_new(c, now)
                if not batch:
                    nxt = self.log.append[self.next] if self.next < self.log.ids.size else np.inf
                    wake = min(max(nxt, now), next_claim, self.end_time)
                    yield env.timeout(max(wake - now, 1e-9))
                    continue
                done = []
                for e in batch:
                    mid = int(self.log.ids[e])
                    yield env.timeout(float(self.service[mid] * self.factor[c]))
                    if self.poison[mid] or self._fails():
                        continue  # fails: stays pending, will be claimed again
                    if env.now <= self.end_time:
                        self.ids.append(mid)
                        self.times.append(env.now)
                    done.append(e)
                for e in done:  # XACK the batch
                    self.pel.pop(e, None)
        except simpy.Interrupt:
            return

    def _fails(self) -> bool:
        """One delivery of a record that is not poison fails (``failure_probability``)."""
        p = self.sg.failure_probability
        return p > 0.0 and bool(self.rng.random() < p)

    # ------------------------------------------------------------------ results

    def records(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, times) of every processing, in completion order."""
        return np.asarray(self.ids, np.int64), np.asarray(self.times, float)

    def dead_letters(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, times) of the entries moved to the dead-letter stream."""
        return np.asarray(self.dead, np.int64), np.asarray(self.dead_t, float)

    @property
    def pending(self) -> int:
        """Entries in the group's PEL (delivered, not acknowledged)."""
        return len(self.pel)

    def masks(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``expected`` (entries at or after where the group started) and ``available``
        (still in the stream and not yet acknowledged by the group) per message."""
        expected = np.zeros(n, bool)
        expected[self.log.ids[self.start_index :]] = True
        available = np.zeros(n, bool)
        alive = self.log.delete > self.end_time
        tail = np.zeros(self.log.ids.size, bool)
        tail[self.next :] = True
        for e in self.pel:
            tail[e] = True
        available[self.log.ids[tail & alive]] = True
        return expected, available


# --------------------------------------------------------------------------- the model


class StreamsModel(Model):
    """Redis Streams in a scenario: ``topology.stream`` and ``consumers.stream_groups``."""

    section = "stream"
    settings = Stream
    readers_field = "stream_groups"
    reader = StreamGroup
    reader_kind = "stream-group"
    targets = ("stream-group", "stream")
    seed_streams = ("stream_groups",)
    precedence = 2
    doc = "a Redis stream read by ``stream_groups``"

    def settings_of(self, settings: Stream, readers: tuple) -> dict[str, Any]:
        out: dict[str, Any] = {"stream.maxlen": settings.maxlen}
        for i, g in enumerate(readers):
            out[f"stream-group:{i}"] = (
                f"{g.consumers} consumers, count={g.count}, min_idle_ms={g.min_idle_ms:g}"
            )
        return out

    def start(self, settings: Stream, readers: tuple, ctx: RunContext) -> Running:
        ok = append_ok(ctx.msgs, ctx.faults)
        slog = StreamLog(settings, ctx.msgs, ok)
        seeds = ctx.seeds["stream_groups"].spawn(max(len(readers), 1))
        groups = [
            StreamGroupSim(
                ctx.env, i, g, slog, ctx.msgs, ctx.faults, np.random.default_rng(ss), ctx.end_time
            )
            for i, (g, ss) in enumerate(zip(readers, seeds, strict=False))
        ]
        return _RunningStream(ok, groups, ctx.msgs)


class _RunningStream(Running):
    def __init__(self, ok: np.ndarray, groups: list[StreamGroupSim], msgs: Messages) -> None:
        self.ok, self.groups, self.msgs = ok, groups, msgs

    def outcome(self) -> np.ndarray:
        return np.where(self.ok, OK, FAILED).astype(np.int8)

    def collect(self, outcome: np.ndarray, grid: np.ndarray) -> Collected:
        msgs, out = self.msgs, Collected()
        n = len(msgs)
        total = 0
        for sg in self.groups:
            ids, times = sg.records()
            expected, available = sg.masks(n)
            expected &= ~msgs.poison
            reader = ReaderHistory(sg.name, ids, times, expected, available)
            out.readers.append(reader)
            d_ids, d_t = sg.dead_letters()
            if msgs.poison.any():
                out.dead_letters.append(dead_letter_reader(sg.name, d_ids, d_t, msgs.poison))
            total += d_ids.size
            out.metrics[f"dlq:{sg.name}"] = float(d_ids.size)
            out.metrics[f"claimed:{sg.name}"] = float(sg.claimed)
            out.metrics[f"pending_trimmed:{sg.name}"] = float(sg.trimmed_pending)
            out.metrics[f"pending_end:{sg.name}"] = float(sg.pending)
            h = History(msgs.keys, msgs.publish_time, outcome, (reader,))
            lag = published_lag(h, reader, grid)
            out.series[f"lag:{sg.name}"] = Series(f"lag:{sg.name}", grid, lag, "messages")
            out.metrics[f"peak_lag:{sg.name}"] = float(lag.max()) if lag.size else 0.0
        if self.groups:
            out.dead_lettered = total
        return out

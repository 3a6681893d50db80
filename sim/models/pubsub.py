"""The ephemeral channel: Redis Pub/Sub.

PUBLISH fans a message out, at the publish instant, to the subscribers connected at that
instant, and returns how many there were; nothing is stored. A subscriber that is down
(crash, restart, deploy, network flap -- the fault windows, plus its reconnect delay)
simply never sees what was published meanwhile. Connected subscribers receive after the
network delay and process one message at a time (a FIFO server). Messages they have not
read yet wait in the server's per-client output buffer; when it passes the hard limit,
or stays above the soft limit for the soft period (checked, as Redis does, whenever a
message is added), the server disconnects the subscriber and drops the buffer.

Connection changes are SimPy events: each subscriber is a process that waits for its
planned disconnects and reconnects (fault windows) and for the disconnects the server
decides on (buffer limits). Between two changes the flow is vectorised: deliveries are a
mask over the message arrays, processing is :func:`sim.core.queue.departures`, and the buffer
occupancy at every arrival is a prefix-sum difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from sim.analysis.gaps import sequence_gaps
from sim.analysis.result import Series
from sim.core import faults as fl
from sim.core.distributions import Service
from sim.core.faults import Fault
from sim.core.history import FAILED, OK, ReaderHistory
from sim.core.queue import departures, starts
from sim.core.validation import check_number, nested
from sim.core.workload import Messages
from sim.models.base import Collected, Model, RunContext, Running

# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class PubSub:
    """A Redis Pub/Sub channel: per-subscriber output buffer limits (bytes; 0 disables a
    limit) as in ``client-output-buffer-limit pubsub 32mb 8mb 60``, and the network delay
    from server to subscriber."""

    buffer_hard_bytes: int = 32 * 1024 * 1024
    buffer_soft_bytes: int = 8 * 1024 * 1024
    buffer_soft_s: float = 60.0
    network_delay_ms: float = 0.5

    def __post_init__(self) -> None:
        check_number(self, "buffer_hard_bytes", 0, 2**40, integer=True)
        check_number(self, "buffer_soft_bytes", 0, 2**40, integer=True)
        check_number(self, "buffer_soft_s", 0.0, 1e6)
        check_number(self, "network_delay_ms", 0.0, 1e6)


@dataclass(frozen=True)
class Subscriber:
    """A Pub/Sub subscriber: its processing time and how long it takes to reconnect."""

    service: Service = field(default_factory=lambda: Service("constant", 0.05))
    reconnect_delay_ms: float = 1000.0
    #: The subscriber repairs the gaps its sequence numbers reveal from a stream the
    #: publisher also writes (:mod:`sim.analysis.gaps`), capped at ``repair_maxlen`` entries
    #: (0: untrimmed); None: no repair, and no gap metrics.
    repair_maxlen: int | None = None

    _NESTED: ClassVar = {"service": Service}

    def __post_init__(self) -> None:
        nested(self)
        check_number(self, "reconnect_delay_ms", 0.0, 1e9)
        check_number(self, "repair_maxlen", 0, 2**40, integer=True, optional=True)


# --------------------------------------------------------------------------- simulation


@dataclass
class SubscriberRun:
    """What happened to one subscriber."""

    name: str
    ids: np.ndarray
    times: np.ndarray
    connected: np.ndarray  # bool per message: connected at its publish instant
    disconnects: int
    buffer_disconnects: int
    max_buffer_bytes: int
    failed: int
    down_s: float
    extra: dict = field(default_factory=dict)


#: Messages per window when buffer limits are on (the window doubles while nothing happens).
WINDOW = 4096


def _started(st: np.ndarray, a: np.ndarray, w: np.ndarray, steps: int = 8) -> np.ndarray:
    """``searchsorted(st, a, side="right")`` (how many of the start times ``st`` are at or
    before each arrival ``a``) where ``st[w] > a``: the answer is at most ``w`` and, the
    queue being short, rarely far below -- a few steps down from ``w``, then a search for
    the arrivals still behind a long queue."""
    k = w.copy()
    todo = np.arange(w.size)
    for _ in range(steps):
        below = k[todo] - 1
        more = (below >= 0) & (st[np.maximum(below, 0)] > a[todo])  # also not started
        todo = todo[more]
        if not todo.size:
            return k
        k[todo] -= 1
    k[todo] = np.searchsorted(st, a[todo], side="right")
    return k


def publish_ok(msgs: Messages, faults: tuple[Fault, ...]) -> np.ndarray:
    """PUBLISH succeeded (the server was up) for each message."""
    starts, ends = fl.windows(faults, ("broker_down",), ("pubsub",))
    return ~fl.inside(msgs.publish_time, starts, ends)


class SubscriberSim:
    """One subscriber on the SimPy timeline.

    Its process waits for every *connection change* as a SimPy event -- a planned
    disconnect (fault start), the reconnect after it (fault end + reconnect delay), a
    disconnect by the server on a buffer limit and the reconnect after that -- and moves
    the messages published between two changes in bulk (:meth:`_flow`).
    """

    def __init__(
        self,
        env,
        index: int,
        sub: Subscriber,
        channel: PubSub,
        msgs: Messages,
        ok: np.ndarray,
        faults: tuple[Fault, ...],
        rng: np.random.Generator,
        end_time: float,
    ) -> None:
        self.env, self.msgs, self.end_time = env, msgs, end_time
        self.name = name = f"subscriber:{index}"
        t = msgs.publish_time
        self.reconnect = sub.reconnect_delay_ms / 1000.0
        self.repair_maxlen = sub.repair_maxlen
        self.delay = channel.network_delay_ms / 1000.0
        service = sub.service.sample(rng, t.size)
        for f in faults:
            if f.kind == "slow_consumer" and f.target == name:
                service = np.where((t >= f.start_s) & (t < f.end_s), service * f.factor, service)
        self.service = service
        self.d_s, self.d_e = fl.windows(
            [f for f in faults if f.target in (name, "pubsub")],
            ("subscriber_down", "network_flap", "broker_down"),
            (name, "pubsub"),
            extra_s=self.reconnect,
        )
        self.connected = ~fl.inside(t, self.d_s, self.d_e) & ok
        # The connected messages, in order; the accepted ones are compacted into its
        # prefix (``self.w`` of them, completed at ``self.out_t``) as the flow goes.
        self.conn = np.flatnonzero(self.connected)
        self.out_t = np.empty(self.conn.size)
        self.w = 0
        self.disconnects = int(self.d_s.size)
        self.hard, self.soft = channel.buffer_hard_bytes, channel.buffer_soft_bytes
        self.soft_s = channel.buffer_soft_s
        self.limited = self.hard > 0 or self.soft > 0
        # Flow state, carried from one stretch (and window) to the next.
        self.buffer_disconnects, self.max_buf = 0, 0
        self.j, self.free, self.window = 0, -np.inf, WINDOW
        self.pend_st = np.zeros(0)  # accepted messages still waiting in the buffer
        self.pend_sz = np.zeros(0, np.int64)
        self.soft_since: float | None = None  # start of the over-soft run, carried
        self.changes: list[tuple[float, str]] = []  # (time, "down" | "up"), as they happen
        env.process(self._timeline())

    # ------------------------------------------------------------------ control timeline

    def _timeline(self):
        env = self.env
        planned = [(float(s), float(e)) for s, e in zip(self.d_s, self.d_e, strict=True)]
        for down, up in [*planned, (np.inf, np.inf)]:
            stop = min(down, self.end_time + 1.0)  # nothing is published after the window
            while (hit := self._flow(stop)) is not None:
                at, back = hit
                yield env.timeout(max(at - env.now, 0.0))
                self.changes.append((env.now, "down"))  # the server closed the connection
                yield env.timeout(max(back - env.now, 0.0))
                self.changes.append((env.now, "up"))
            if down == np.inf:
                break
            yield env.timeout(max(down - env.now, 0.0))
            self.changes.append((env.now, "down"))
            yield env.timeout(max(up - env.now, 0.0))
            self.changes.append((env.now, "up"))
        self._flow(np.inf)
        self.service = None  # every message is through: free it now

    # ------------------------------------------------------------------ message flow

    def _flow(self, until: float) -> tuple[float, float] | None:
        """Deliver and process the connected messages published before ``until``, in
        windows; stop at a buffer-limit disconnect and return ``(at, reconnect_at)``."""
        t, sizes, conn = self.msgs.publish_time, self.msgs.size, self.conn
        last = np.searchsorted(t, until, side="left")  # (conn[:j] holds accepted ids now)
        end = self.j + int(np.searchsorted(conn[self.j :], last, side="left"))
        delay = self.delay
        while self.j < end:
            j = self.j
            idx = conn[j : min(j + self.window, end)] if self.limited else conn[j:end]
            lo = int(idx[0])
            # A run of consecutive ids (no outage inside): slices, no gathers.
            at = slice(lo, lo + idx.size) if int(idx[-1]) - lo + 1 == idx.size else idx
            a = t[at] + delay
            d = departures(a, self.service[at], self.free)
            st = starts(a, d, self.free)
            buf = self._buffer(a, st, sizes, at)
            if self.limited:
                cut = self._limits(buf, t[at])
                if cut < idx.size:
                    self.max_buf = max(self.max_buf, int(buf[: cut + 1].max()))
                    return self._buffer_disconnect(idx, st, d, cut)
            self.max_buf = max(self.max_buf, int(buf.max()) if buf.size else 0)
            self.free = float(d[-1])
            # Still waiting for the next arrivals: a suffix of the earlier ones, then of these.
            kp = int(np.searchsorted(self.pend_st, a[-1], side="right"))
            ks = int(np.searchsorted(st, a[-1], side="right"))
            self.pend_st = np.concatenate((self.pend_st[kp:], st[ks:]))
            self.pend_sz = np.concatenate((self.pend_sz[kp:], sizes[idx[ks:]]))
            self._accept(idx, d, at=j)  # (last: it may overwrite ``idx``)
            self.j += idx.size
            self.window *= 2
        return None

    def _buffer(self, a: np.ndarray, st: np.ndarray, sizes: np.ndarray, at) -> np.ndarray:
        """Bytes waiting in the output buffer right after each arrival ``a`` (``st``: the
        start times; ``at``: the messages): those (earlier ones included) that have not
        started processing yet -- none for a message that starts on arrival."""
        pend_st, pend_sz = self.pend_st, self.pend_sz
        m = pend_st.size
        w = np.flatnonzero(st > a)  # the arrivals that find the subscriber busy
        buf = np.zeros(a.size, np.int64)
        if not w.size:
            return buf
        aw = a[w]
        # Started by each of them: pending ones (all earlier than this window), then these.
        k = np.searchsorted(pend_st, aw, side="right") + _started(st, aw, w)
        k = np.minimum(k, w + (m + 1))
        if sizes.strides == (0,):  # one size for all: bytes are a count times the size
            buf[w] = int(sizes[0]) * (w + (m + 1) - k)
        else:
            csz = np.concatenate(([0], np.cumsum(np.concatenate((pend_sz, sizes[at])))))
            buf[w] = csz[w + (m + 1)] - csz[k]
        return buf

    def _limits(self, buf: np.ndarray, t: np.ndarray) -> int:
        """The first message (index) whose arrival makes the server disconnect: the buffer
        passes the hard limit, or has stayed above the soft limit for the soft period
        (``t``: publish times); ``buf.size`` when none. Carries the over-soft run."""
        hard, soft, cut = self.hard, self.soft, buf.size
        top = int(buf.max()) if buf.size else 0
        if hard > 0 and top > hard:
            cut = int(np.flatnonzero(buf > hard)[0])
        if soft > 0 and top <= soft:
            self.soft_since = None  # never over the soft limit in this window
        elif soft > 0:
            over = buf > soft
            first = np.where(over & ~np.r_[False, over[:-1]], np.arange(buf.size), 0)
            since = t[np.maximum.accumulate(first)]
            if self.soft_since is not None and over[0]:
                lead = np.argmin(over) if not over.all() else over.size
                since[:lead] = self.soft_since
            hit = np.flatnonzero(over & (t - since >= self.soft_s))
            if hit.size:
                cut = min(cut, int(hit[0]))
            self.soft_since = float(since[-1]) if over[-1] else None
        return cut

    def _buffer_disconnect(self, idx, st, d, cut: int) -> tuple[float, float]:
        """The server closes the connection at the arrival of ``idx[cut]``, dropping the
        buffer; messages published until the reconnect are missed."""
        t, delay = self.msgs.publish_time, self.delay
        at = float(t[idx[cut]])
        done = st[:cut] < at + delay
        back = at + self.reconnect
        lo = int(idx[cut])
        hi = max(int(np.searchsorted(t, back, side="left")), lo + 1)
        j = self.j + cut + 1  # (conn[:j] holds accepted ids: search after it)
        self.j = j + int(np.searchsorted(self.conn[j:], hi, side="left"))
        # Messages of earlier windows still in the buffer are dropped as well.
        self.w -= int((self.pend_st >= at + delay).sum())
        self._accept(idx[:cut][done], d[:cut][done])
        self.free = float(self.out_t[self.w - 1]) if self.w else -np.inf
        self.connected[lo:hi] = False
        self.disconnects += 1
        self.buffer_disconnects += 1
        self.pend_st, self.pend_sz, self.soft_since = np.zeros(0), np.zeros(0, np.int64), None
        self.window = WINDOW
        return at, back

    def _accept(self, ids: np.ndarray, times: np.ndarray, at: int | None = None) -> None:
        """Append accepted messages (ids, completion times) to the compacted prefix;
        ``at``: the ids are ``conn[at:]`` (nothing to move when nothing was dropped)."""
        k, w = ids.size, self.w
        if at != w:
            self.conn[w : w + k] = ids
        self.out_t[w : w + k] = times
        self.w += k

    # ------------------------------------------------------------------ result

    def result(self) -> SubscriberRun:
        """What happened, once the environment has run to the end."""
        msgs = self.msgs
        ids, times = self.conn[: self.w], self.out_t[: self.w]
        self.conn = self.out_t = None
        keep = times <= self.end_time
        failed = 0
        if msgs.poison.any():
            poison = msgs.poison[ids]
            failed = int((poison & keep).sum())
            keep &= ~poison
        if not keep.all():
            ids, times = ids[keep], times[keep]
        return SubscriberRun(
            name=self.name,
            ids=ids,
            times=times,
            connected=self.connected,
            disconnects=self.disconnects,
            buffer_disconnects=self.buffer_disconnects,
            max_buffer_bytes=self.max_buf,
            failed=failed,
            down_s=fl.covered(self.d_s, self.d_e, 0.0, msgs.window_s),
            extra={"changes": tuple(self.changes)},
        )


class ChannelSim:
    """A Pub/Sub channel and all its subscribers on one SimPy environment."""

    def __init__(
        self,
        env,
        channel: PubSub,
        subscribers: tuple[Subscriber, ...],
        msgs: Messages,
        faults: tuple[Fault, ...],
        seeds: list[np.random.SeedSequence],
        end_time: float,
    ) -> None:
        self.msgs = msgs
        self.ok = publish_ok(msgs, faults)
        self.subs = [
            SubscriberSim(
                env,
                i,
                sub,
                channel,
                msgs,
                self.ok,
                faults,
                np.random.default_rng(seeds[i]),
                end_time,
            )
            for i, sub in enumerate(subscribers)
        ]

    def results(
        self,
    ) -> tuple[list[ReaderHistory], dict[str, np.ndarray], dict[str, float], np.ndarray]:
        """Reader histories, per-publish receiver counts (``receivers``), metrics, and the
        PUBLISH success mask -- after the environment has run."""
        msgs = self.msgs
        expected = self.ok & ~msgs.poison
        readers, metrics = [], {}
        receivers = np.zeros(len(msgs), np.int16)
        for sub in self.subs:
            run = sub.result()
            readers.append(
                ReaderHistory(run.name, run.ids, run.times, expected=expected, available=None)
            )
            receivers += run.connected
            metrics[f"disconnects:{run.name}"] = float(run.disconnects)
            metrics[f"buffer_disconnects:{run.name}"] = float(run.buffer_disconnects)
            metrics[f"max_buffer_bytes:{run.name}"] = float(run.max_buffer_bytes)
            metrics[f"failed:{run.name}"] = float(run.failed)
            window = msgs.window_s
            metrics[f"down_fraction:{run.name}"] = run.down_s / window if window > 0 else 0.0
            if sub.repair_maxlen is not None:
                metrics |= _gap_metrics(run, msgs, sub.repair_maxlen)
        return readers, {"receivers": receivers}, metrics, self.ok


# --------------------------------------------------------------------------- the model


class PubSubModel(Model):
    """Redis Pub/Sub in a scenario: ``topology.pubsub`` and ``consumers.subscribers``."""

    section = "pubsub"
    settings = PubSub
    readers_field = "subscribers"
    reader = Subscriber
    readers_as_count = True
    reader_kind = "subscriber"
    targets = ("subscriber", "pubsub")
    seed_streams = ("subscribers",)
    precedence = 1
    doc = "a Redis Pub/Sub channel read by ``subscribers`` (a count or a list)"

    def settings_of(self, settings: PubSub, readers: tuple) -> dict[str, Any]:
        limit = (
            f"{settings.buffer_hard_bytes} {settings.buffer_soft_bytes} {settings.buffer_soft_s:g}"
        )
        return {"pubsub.buffer_limit": limit}

    def start(self, settings: PubSub, readers: tuple, ctx: RunContext) -> Running:
        seeds = ctx.seeds["subscribers"].spawn(max(len(readers), 1))
        channel = ChannelSim(ctx.env, settings, readers, ctx.msgs, ctx.faults, seeds, ctx.end_time)
        return _RunningChannel(channel, ctx.msgs)


class _RunningChannel(Running):
    def __init__(self, channel: ChannelSim, msgs: Messages) -> None:
        self.channel, self.msgs = channel, msgs
        self.results: tuple | None = None

    def _results(self) -> tuple:
        if self.results is None:
            self.results = self.channel.results()
            self.channel = None
        return self.results

    def outcome(self) -> np.ndarray:
        ok = self._results()[3]
        return np.where(ok, OK, FAILED).astype(np.int8)

    def collect(self, outcome: np.ndarray, grid: np.ndarray) -> Collected:
        subs, extra, metrics, _ = self._results()
        msgs = self.msgs
        rec = extra["receivers"]
        metrics["mean_receivers"] = float(rec.mean()) if len(msgs) else 0.0
        series = {"receivers": Series("receivers", msgs.publish_time, rec, "subscribers")}
        return Collected(readers=subs, series=series, metrics=metrics)


def _gap_metrics(run: SubscriberRun, msgs: Messages, maxlen: int) -> dict[str, float]:
    """What the subscriber's sequence numbers reveal, repaired from a stream of ``maxlen``
    entries (0: untrimmed) as it stood when each revealing message arrived."""
    seen = np.concatenate(([-1], np.maximum.accumulate(run.ids)[:-1]))
    revealed_at = run.times[run.ids - seen > 1]
    published = np.searchsorted(msgs.publish_time, revealed_at, side="right")
    gaps = sequence_gaps(run.ids, sent=len(msgs), stream_maxlen=maxlen, published=published)
    return {f"{k}:{run.name}": float(v) for k, v in gaps.as_dict().items()}

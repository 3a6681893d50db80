"""The ephemeral channel: Redis Pub/Sub.

PUBLISH fans a message out, at the publish instant, to the subscribers connected at that
instant, and returns how many there were; nothing is stored. A subscriber that is down
(crash, restart, deploy, network flap -- the fault windows, plus its reconnect delay)
simply never sees what was published meanwhile. Connected subscribers receive after the
network delay and process one message at a time (a FIFO server). Messages they have not
read yet wait in the server's per-client output buffer; when it passes the hard limit,
or stays above the soft limit for the soft period (checked, as Redis does, whenever a
message is added), the server disconnects the subscriber and drops the buffer.

Everything is vectorised per connected stretch: deliveries are a mask over the message
arrays, processing is :func:`sim.queue.departures`, and the buffer occupancy at every
arrival is a prefix-sum difference. Only a buffer-limit disconnect starts a new stretch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim import faults as fl
from sim.history import ReaderHistory
from sim.queue import departures, starts
from sim.scenario import Fault, PubSub, Subscriber
from sim.workload import Messages


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


def _drop_tail(ids_parts: list, time_parts: list, n: int) -> None:
    """Remove the last ``n`` accepted messages."""
    while n > 0 and ids_parts:
        size = ids_parts[-1].size
        if size <= n:
            ids_parts.pop()
            time_parts.pop()
            n -= size
        else:
            ids_parts[-1] = ids_parts[-1][: size - n]
            time_parts[-1] = time_parts[-1][: size - n]
            n = 0


def publish_ok(msgs: Messages, faults: tuple[Fault, ...]) -> np.ndarray:
    """PUBLISH succeeded (the server was up) for each message."""
    starts, ends = fl.windows(faults, ("broker_down",), ("pubsub",))
    return ~fl.inside(msgs.publish_time, starts, ends)


def run_subscriber(
    index: int,
    sub: Subscriber,
    channel: PubSub,
    msgs: Messages,
    ok: np.ndarray,
    faults: tuple[Fault, ...],
    rng: np.random.Generator,
    end_time: float,
) -> SubscriberRun:
    """Simulate subscriber ``index`` for the whole run."""
    name = f"subscriber:{index}"
    t = msgs.publish_time
    n = t.size
    reconnect = sub.reconnect_delay_ms / 1000.0
    delay = channel.network_delay_ms / 1000.0
    service = sub.service.sample(rng, n)
    for f in faults:
        if f.kind == "slow_consumer" and f.target == name:
            service = np.where((t >= f.start_s) & (t < f.end_s), service * f.factor, service)
    d_s, d_e = fl.windows(
        [f for f in faults if f.target in (name, "pubsub")],
        ("subscriber_down", "network_flap", "broker_down"),
        (name, "pubsub"),
        extra_s=reconnect,
    )
    connected = ~fl.inside(t, d_s, d_e) & ok
    disconnects = int(d_s.size)
    hard, soft, soft_s = channel.buffer_hard_bytes, channel.buffer_soft_bytes, channel.buffer_soft_s

    ids_parts, time_parts = [], []
    buffer_disconnects, max_buf = 0, 0
    limited = hard > 0 or soft > 0
    conn = np.flatnonzero(connected)
    sizes = msgs.size
    # Work in windows of connected messages (growing while nothing happens) so that a
    # subscriber disconnected again and again costs time in proportion to the messages.
    j, free, window = 0, -np.inf, WINDOW
    pend_st = np.zeros(0)  # accepted messages still waiting in the buffer
    pend_sz = np.zeros(0, np.int64)
    soft_since = None  # start of the current over-soft run, carried across windows
    while j < conn.size:
        idx = conn[j : j + window] if limited else conn[j:]
        a = t[idx] + delay
        s = service[idx]
        d = departures(a, s, free)
        st = starts(a, d, free)
        cut = idx.size
        # Bytes waiting in the output buffer right after each arrival: the messages
        # (earlier ones included) that have not started processing yet.
        m = pend_st.size
        st_all = np.concatenate((pend_st, st))
        csz = np.concatenate(([0], np.cumsum(np.concatenate((pend_sz, sizes[idx])))))
        k = np.searchsorted(st_all, a, side="right")
        k = np.minimum(k, np.arange(m + 1, m + idx.size + 1))
        buf = csz[m + 1 :] - csz[k]
        if limited:
            if hard > 0:
                over = np.flatnonzero(buf > hard)
                if over.size:
                    cut = int(over[0])
            if soft > 0:
                over = buf > soft
                first = np.where(over & ~np.r_[False, over[:-1]], np.arange(idx.size), 0)
                since = t[idx][np.maximum.accumulate(first)]
                if soft_since is not None and over.size and over[0]:
                    lead = np.argmin(over) if not over.all() else over.size
                    since[:lead] = soft_since
                hit = np.flatnonzero(over & (t[idx] - since >= soft_s))
                if hit.size:
                    cut = min(cut, int(hit[0]))
                soft_since = float(since[-1]) if over.size and over[-1] else None
        if cut < idx.size:
            max_buf = max(max_buf, int(buf[: cut + 1].max()))
        elif buf.size:
            max_buf = max(max_buf, int(buf.max()))
        if cut < idx.size:
            at = t[idx[cut]]  # the server closes the connection, dropping its buffer
            done = st[:cut] < at + delay
            # Messages of earlier windows still in the buffer are dropped as well.
            _drop_tail(ids_parts, time_parts, int((pend_st >= at + delay).sum()))
            ids_parts.append(idx[:cut][done])
            time_parts.append(d[:cut][done])
            last = [x for x in time_parts if x.size]
            free = float(last[-1][-1]) if last else -np.inf
            back = at + reconnect
            lo = int(idx[cut])
            hi = max(int(np.searchsorted(t, back, side="left")), lo + 1)
            connected[lo:hi] = False
            disconnects += 1
            buffer_disconnects += 1
            j = int(np.searchsorted(conn, hi, side="left"))
            pend_st, pend_sz, soft_since = np.zeros(0), np.zeros(0, np.int64), None
            window = WINDOW
            continue
        ids_parts.append(idx)
        time_parts.append(d)
        if idx.size:
            free = float(d[-1])
            keep = st_all > a[-1]  # a suffix: still waiting for the next arrivals
            pend_st = st_all[keep]
            pend_sz = np.concatenate((pend_sz, sizes[idx]))[keep]
        j += idx.size
        window *= 2
    ids = np.concatenate(ids_parts) if ids_parts else np.zeros(0, np.int64)
    times = np.concatenate(time_parts) if time_parts else np.zeros(0)
    keep = times <= end_time
    poison = msgs.poison[ids]
    failed = int((poison & keep).sum())
    keep &= ~poison
    window = msgs.window_s
    down_s = fl.covered(d_s, d_e, 0.0, window)
    return SubscriberRun(
        name=name,
        ids=ids[keep],
        times=times[keep],
        connected=connected,
        disconnects=disconnects,
        buffer_disconnects=buffer_disconnects,
        max_buffer_bytes=max_buf,
        failed=failed,
        down_s=down_s,
    )


def simulate(
    channel: PubSub,
    subscribers: tuple[Subscriber, ...],
    msgs: Messages,
    faults: tuple[Fault, ...],
    seeds: list[np.random.SeedSequence],
    end_time: float,
) -> tuple[list[ReaderHistory], dict[str, np.ndarray], dict[str, float], np.ndarray]:
    """All subscribers of the channel: reader histories, per-publish receiver counts
    (``receivers``), metrics, and the PUBLISH success mask."""
    ok = publish_ok(msgs, faults)
    expected = ok & ~msgs.poison
    readers, metrics = [], {}
    receivers = np.zeros(len(msgs), np.int16)
    for i, sub in enumerate(subscribers):
        run = run_subscriber(
            i, sub, channel, msgs, ok, faults, np.random.default_rng(seeds[i]), end_time
        )
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
    return readers, {"receivers": receivers}, metrics, ok

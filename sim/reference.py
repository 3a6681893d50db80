"""A per-message reference simulator, for tests that pin the fast path down.

The engine computes message flows in bulk (Lindley recursions, masks). This module runs
the same scenario the naive SimPy way -- one process per consumer, one event per
message -- for the subset of features where that is simple: Pub/Sub subscribers with
fault windows and reconnect delays (no output-buffer limits), and Kafka consumer groups
without faults. It draws from the same random streams as :func:`sim.run`, so on small
inputs both must produce the same history. It is slow on purpose; never use it for
experiments.
"""

from __future__ import annotations

import numpy as np
import simpy

from sim import faults as fl
from sim.engine import load
from sim.groups import assign
from sim.history import OK, History, ReaderHistory
from sim.log import produce
from sim.workload import generate


def run_reference(scenario, seed: int = 0) -> History:
    """The history of ``scenario`` computed one message at a time."""
    sc = load(scenario)
    if any(f.target_kind in ("group", "stream-group", "partition", "log") for f in sc.faults):
        raise ValueError('"faults" on consumer groups or the log are not modelled here.')
    if sc.topology.stream is not None:
        raise ValueError('"stream" is not modelled by the reference simulator.')
    root = np.random.SeedSequence(int(seed))
    s_work, s_prod, s_subs, s_groups, _ = root.spawn(5)
    msgs = generate(sc.workload, s_work.spawn(4))
    n = len(msgs)
    end = max(msgs.window_s, sc.workload.duration_s if sc.workload.messages is None else 0.0)
    end = max(end, max((f.end_s for f in sc.faults), default=0.0)) + sc.drain_s
    env = simpy.Environment()
    outcome = np.full(n, OK, np.int8)
    readers: list[tuple[str, list, list]] = []
    partition = None

    pubsub, subs = sc.topology.pubsub, sc.consumers.subscribers
    if pubsub is not None:
        if pubsub.buffer_hard_bytes or pubsub.buffer_soft_bytes:
            big = max(pubsub.buffer_hard_bytes, pubsub.buffer_soft_bytes)
            if int(msgs.size.sum()) > big:
                raise ValueError('"buffer" limits could be reached: not modelled here.')
        seeds = s_subs.spawn(max(len(subs), 1))
        for i, sub in enumerate(subs):
            name = f"subscriber:{i}"
            service = sub.service.sample(np.random.default_rng(seeds[i]), n)
            for f in sc.faults:
                if f.kind == "slow_consumer" and f.target == name:
                    t = msgs.publish_time
                    service = np.where(
                        (t >= f.start_s) & (t < f.end_s), service * f.factor, service
                    )
            starts, ends = fl.windows(
                [f for f in sc.faults if f.target == name],
                ("subscriber_down", "network_flap"),
                (name,),
                extra_s=sub.reconnect_delay_ms / 1000.0,
            )
            ids, times = [], []
            inbox = simpy.Store(env)
            env.process(_publisher(env, msgs, inbox, starts, ends, pubsub.network_delay_ms))
            env.process(_subscriber(env, inbox, service, msgs.poison, ids, times, end))
            readers.append((name, ids, times))

    if sc.topology.log is not None:
        topic = produce(sc.topology.log, msgs, sc.faults, np.random.default_rng(s_prod))
        outcome, partition = topic.outcome.copy(), topic.partition
        seeds = s_groups.spawn(max(len(sc.consumers.groups), 1))
        for g, group in enumerate(sc.consumers.groups):
            if group.join_at_s or group.seek_offset is not None or group.seek_timestamp_s:
                raise ValueError('"join_at_s" and seeks are not modelled here.')
            service = group.service.sample(np.random.default_rng(seeds[g]), n)
            owner = assign(list(range(group.consumers)), len(topic.partitions), group.assignment)
            ids, times = [], []
            for c in range(group.consumers):
                mine = [topic.partitions[p] for p in np.flatnonzero(owner == c)]
                env.process(_consumer(env, mine, service, msgs.poison, group, ids, times, end))
            readers.append((f"group:{g}", ids, times))

    env.run(until=end + 1e-9)
    return History(
        msgs.keys,
        msgs.publish_time,
        outcome,
        tuple(ReaderHistory(name, np.array(i, np.int64), np.array(t)) for name, i, t in readers),
        partition=partition,
        end_time=end,
    )


def _publisher(env, msgs, inbox, starts, ends, delay_ms):
    down = fl.inside(msgs.publish_time, starts, ends)
    for i, t in enumerate(msgs.publish_time):
        yield env.timeout(max(float(t) - env.now, 0.0))
        if not down[i]:
            env.process(_deliver(env, inbox, i, delay_ms / 1000.0))


def _deliver(env, inbox, i, delay):
    yield env.timeout(delay)
    yield inbox.put(i)


def _subscriber(env, inbox, service, poison, ids, times, end):
    while True:
        i = yield inbox.get()
        yield env.timeout(float(service[i]))
        if not poison[i] and env.now <= end:
            ids.append(i)
            times.append(env.now)


def _consumer(env, parts, service, poison, group, ids, times, end):
    from sim.dlq import retry_cost

    pos = [0] * len(parts)
    while True:
        heads = [(float(p.append[pos[k]]), k) for k, p in enumerate(parts) if pos[k] < len(p.ids)]
        if not heads:
            return
        at, k = min(heads)
        if at > env.now:
            yield env.timeout(at - env.now)
        i = int(parts[k].ids[pos[k]])
        s = service[i]
        if poison[i]:
            s = retry_cost(np.array([s]), group.max_retries, group.retry_backoff_ms)[0]
        yield env.timeout(float(s))
        pos[k] += 1
        if env.now > end:
            return
        if not poison[i]:
            ids.append(i)
            times.append(env.now)

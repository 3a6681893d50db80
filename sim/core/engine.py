"""Running a scenario: ``sim.run(scenario, seed=...) -> Result``.

One run generates the workload as arrays, publishes it to every channel of the topology,
lets SimPy drive the control timeline (faults, rebalances, reconnects, stream members)
while each component computes its message flow in bulk, and finally assembles the
history, the checker's report, the time series and the metrics into a
:class:`~sim.analysis.result.Result` with ``source = "simulator"``.

Random streams come from one seed, split with ``numpy.random.SeedSequence(seed).spawn``:
the workload (arrivals, keys, sizes, poison), the producer, every subscriber, every group
and every stream group draw from their own stream, so the same seed always gives the
same result and adding a subscriber does not change what a consumer group sees.

Names used in the result (reader, series and metric names):

- readers: ``subscriber:i``, ``group:g``, ``stream-group:g``, and ``dlq:group:g`` /
  ``dlq:stream-group:g`` when the workload has poison messages;
- series: ``lag:group:g`` (messages), ``lag:group:g:p<k>`` (per partition),
  ``lag_rate:group:g`` (messages/s), ``lag_accel:group:g`` (messages/s^2),
  ``lag:stream-group:g``, ``receivers`` (subscribers reached by each PUBLISH);
- metrics: ``peak_lag:<group>``, ``peak_lag_time_s:<group>``, ``catch_up_s:<group>``,
  ``recovery_s:<group>`` (after its last outage), ``lag_accel_max:<group>``,
  ``rebalances:<group>``, ``redelivered:<group>``, ``skipped:<group>`` (at-most-once and
  retention), ``dlq:<group>`` and ``dlq`` (total), ``dropped_poison:<group>`` (with
  ``dlq: false``), ``throughput_per_s:partition:k``,
  ``partition_skew``, ``disconnects:subscriber:i``, ``buffer_disconnects:subscriber:i``,
  ``max_buffer_bytes:subscriber:i``, ``down_fraction:subscriber:i``,
  ``failed:subscriber:i``, ``mean_receivers``, ``producer_duplicates``,
  ``truncated_on_failover``, ``expired_sends``, ``claimed:<stream-group>``,
  ``pending_end:<stream-group>``, ``window_s``, ``messages``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from sim.analysis import metrics as mx
from sim.analysis.result import Result, Series
from sim.core.history import FAILED, OK, History, ReaderHistory
from sim.core.scenario import Scenario
from sim.core.workload import Messages, check_messages, generate
from sim.models import pubsub as ps
from sim.models.dlq import dead_letter_reader
from sim.models.groups import GroupSim
from sim.models.log import Topic, produce
from sim.models.streams import StreamGroupSim, StreamLog, append_ok


def load(scenario: Scenario | Mapping | str | Path) -> Scenario:
    """A scenario from a :class:`Scenario`, a mapping, a YAML path or a bundled name."""
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, Mapping):
        return Scenario.from_dict(scenario)
    path = Path(scenario)
    if not path.exists():
        bundled = Path(__file__).parents[1] / "scenarios" / f"{path.stem}.yaml"
        if bundled.exists():
            path = bundled
    return Scenario.from_yaml(path)


def settings_of(s: Scenario) -> dict[str, Any]:
    """The settings that decide the outcome, flat, for :attr:`Result.settings`."""
    out: dict[str, Any] = {}
    t = s.topology
    if t.pubsub is not None:
        out["pubsub.buffer_limit"] = (
            f"{t.pubsub.buffer_hard_bytes} {t.pubsub.buffer_soft_bytes} {t.pubsub.buffer_soft_s:g}"
        )
    if t.log is not None:
        for k in (
            "partitions",
            "acks",
            "enable_idempotence",
            "retries",
            "retention_ms",
            "retention_bytes",
            "linger_ms",
        ):
            out[f"log.{k}"] = getattr(t.log, k)
    if t.stream is not None:
        out["stream.maxlen"] = t.stream.maxlen
    for i, g in enumerate(s.consumers.groups):
        out[f"group:{i}"] = (
            f"{g.consumers} consumers, {g.assignment}, commit={g.commit}, "
            f"max_poll_records={g.max_poll_records}, auto_offset_reset={g.auto_offset_reset}"
        )
    for i, g in enumerate(s.consumers.stream_groups):
        out[f"stream-group:{i}"] = (
            f"{g.consumers} consumers, count={g.count}, min_idle_ms={g.min_idle_ms:g}"
        )
    return out


def run(
    scenario: Scenario | Mapping | str | Path,
    seed: int = 0,
    *,
    name: str | None = None,
    messages: Messages | None = None,
) -> Result:
    """Simulate ``scenario`` with ``seed``; the same seed always gives the same result.

    ``messages`` publishes exactly these sends (times, keys, sizes, poison marks) instead of
    drawing them from the scenario's workload: a twin hands the simulator the very sequence
    its lab sent. Every other random stream (producer, subscribers, groups) still comes
    from ``seed``.
    """
    sc = load(scenario)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'"seed" must be a non-negative integer, got {seed!r}.')
    root = np.random.SeedSequence(int(seed))
    s_work, s_prod, s_subs, s_groups, s_sgroups = root.spawn(5)
    msgs = generate(sc.workload, s_work.spawn(4)) if messages is None else check_messages(messages)
    n = len(msgs)
    window = msgs.window_s
    last_fault = max((f.end_s for f in sc.faults), default=0.0)
    end_time = max(window, sc.workload.duration_s if sc.workload.messages is None else 0.0)
    end_time = max(end_time, last_fault) + sc.drain_s
    topo, cons = sc.topology, sc.consumers

    outcome = np.full(n, OK, np.int8)
    partition = None
    readers: list[ReaderHistory] = []
    dlq_readers: list[ReaderHistory] = []
    series: dict[str, Series] = {}
    metrics: dict[str, float] = {"messages": float(n), "window_s": window}
    env = simpy.Environment()

    topic: Topic | None = None
    if topo.log is not None:
        topic = produce(topo.log, msgs, sc.faults, np.random.default_rng(s_prod))
        outcome = topic.outcome.copy()
        partition = topic.partition
        metrics["producer_duplicates"] = float(topic.duplicates_written)
        metrics["truncated_on_failover"] = float(topic.truncated)
        metrics["expired_sends"] = float(topic.expired)
    stream_ok = append_ok(msgs, sc.faults) if topo.stream is not None else None
    if topo.log is None and stream_ok is not None:
        outcome[~stream_ok] = FAILED

    channel = None
    if topo.pubsub is not None:
        channel = ps.ChannelSim(
            env,
            topo.pubsub,
            cons.subscribers,
            msgs,
            sc.faults,
            s_subs.spawn(max(len(cons.subscribers), 1)),
            end_time,
        )

    gsims = []
    if topic is not None:
        for i, (g, ss) in enumerate(
            zip(cons.groups, s_groups.spawn(max(len(cons.groups), 1)), strict=False)
        ):
            gsims.append(
                GroupSim(env, i, g, topic, msgs, sc.faults, np.random.default_rng(ss), end_time)
            )
    ssims = []
    if topo.stream is not None:
        slog = StreamLog(topo.stream, msgs, stream_ok)
        for i, (g, ss) in enumerate(
            zip(cons.stream_groups, s_sgroups.spawn(max(len(cons.stream_groups), 1)), strict=False)
        ):
            ssims.append(
                StreamGroupSim(
                    env, i, g, slog, msgs, sc.faults, np.random.default_rng(ss), end_time
                )
            )
    env.run(until=end_time + 1e-9)

    if channel is not None:
        subs, extra, m, ok = channel.results()
        channel = None
        if topo.log is None and topo.stream is None:
            outcome[~ok] = FAILED
        readers += subs
        metrics.update(m)
        rec = extra["receivers"]
        metrics["mean_receivers"] = float(rec.mean()) if n else 0.0
        series["receivers"] = Series("receivers", msgs.publish_time, rec, "subscribers")

    grid = np.linspace(0.0, end_time, sc.lag_points)
    total_dlq = 0
    records = [gs.records() for gs in gsims]  # frees every group's run-time buffers
    for gs in gsims:
        ids, times, pp, off = records.pop(0)
        updates = _position_updates(gs, times, pp, off)
        del pp, off
        expected, available = gs.masks(n)
        expected &= ~msgs.poison
        readers.append(ReaderHistory(gs.name, ids, times, expected, available))
        d_ids, d_t = gs.dead_letters()
        if msgs.poison.any():
            dlq_readers.append(dead_letter_reader(gs.name, d_ids, d_t, msgs.poison))
        total_dlq += d_ids.size
        metrics[f"dlq:{gs.name}"] = float(d_ids.size)
        metrics[f"dropped_poison:{gs.name}"] = float(gs.dropped_poison)
        metrics[f"rebalances:{gs.name}"] = float(gs.rebalances)
        metrics[f"redelivered:{gs.name}"] = float(gs.redelivered)
        metrics[f"skipped:{gs.name}"] = float(gs.skipped_by_retention + gs.skipped_uncommitted)
        del ids, times, expected, available
        _group_lag(gs, sc, *updates, grid, series, metrics)
        del updates
    for ss in ssims:
        ids = np.asarray(ss.ids, np.int64)
        times = np.asarray(ss.times, float)
        expected, available = ss.masks(n)
        expected &= ~msgs.poison
        readers.append(ReaderHistory(ss.name, ids, times, expected, available))
        if msgs.poison.any():
            dlq_readers.append(
                dead_letter_reader(
                    ss.name,
                    np.asarray(ss.dead, np.int64),
                    np.asarray(ss.dead_t, float),
                    msgs.poison,
                )
            )
        total_dlq += len(ss.dead)
        metrics[f"dlq:{ss.name}"] = float(len(ss.dead))
        metrics[f"claimed:{ss.name}"] = float(ss.claimed)
        metrics[f"pending_end:{ss.name}"] = float(len(ss.pel))
        h = History(msgs.keys, msgs.publish_time, outcome, (readers[-1],))
        lag = mx.published_lag(h, readers[-1], grid)
        series[f"lag:{ss.name}"] = Series(f"lag:{ss.name}", grid, lag, "messages")
        metrics[f"peak_lag:{ss.name}"] = float(lag.max()) if lag.size else 0.0
    if gsims or ssims:
        metrics["dlq"] = float(total_dlq)
    if topic is not None:
        counts = np.array([len(p) for p in topic.partitions], float)
        dur = window if window > 0 else 1.0
        for k, c in enumerate(counts):
            metrics[f"throughput_per_s:partition:{k}"] = float(c / dur)
        metrics["partition_skew"] = mx.skew(counts)

    history = History(
        keys=msgs.keys,
        publish_time=msgs.publish_time,
        outcome=outcome,
        readers=tuple(readers + dlq_readers),
        partition=partition,
        end_time=end_time,
    )
    return Result.from_history(
        name or sc.name,
        "simulator",
        history,
        seed=int(seed),
        params=sc.to_dict(),
        settings=settings_of(sc),
        series=series,
        metrics=metrics,
    )


def _position_updates(gs: GroupSim, times, pp, off) -> tuple[np.ndarray, ...]:
    """The group's position updates ``(time, partition, new position)``: its start, every
    processed record and every retention reset."""
    P = len(gs.parts)
    resets = np.array(gs.resets, float).reshape(-1, 3)
    ev_t = np.concatenate((np.full(P, gs.group.join_at_s), times, resets[:, 0]))
    ev_p = np.concatenate((np.arange(P), pp, resets[:, 1])).astype(np.int32)
    ev_v = np.concatenate((gs.init_pos, off + 1, resets[:, 2])).astype(np.int64)
    return ev_t, ev_p, ev_v


def _group_lag(gs: GroupSim, sc: Scenario, ev_t, ev_p, ev_v, grid, series, metrics) -> None:
    parts = gs.parts
    P = len(parts)
    start = gs.group.join_at_s
    appends = [p.append for p in parts]
    prof, per = mx.lag_profile(appends, ev_t, ev_p, ev_v, start)
    g = grid[grid >= start]
    total = prof.at(g)
    name = gs.name
    series[f"lag:{name}"] = Series(f"lag:{name}", g, total, "messages")
    by_part = mx.partition_lag(appends, per, g)
    for k in range(P):
        series[f"lag:{name}:p{k}"] = Series(f"lag:{name}:p{k}", g, by_part[k], "messages")
    rate, accel = mx.derivatives(g, total)
    series[f"lag_rate:{name}"] = Series(f"lag_rate:{name}", g, rate, "messages/s")
    series[f"lag_accel:{name}"] = Series(f"lag_accel:{name}", g, accel, "messages/s^2")
    metrics[f"peak_lag:{name}"] = prof.peak
    metrics[f"peak_lag_time_s:{name}"] = prof.peak_time
    metrics[f"catch_up_s:{name}"] = prof.catch_up_s()
    outages = [
        f.end_s
        for f in sc.faults
        if (f.target_kind == "group" and f.target_index[0] == gs.index)
        or f.target in ("log",)
        or f.target_kind == "partition"
    ]
    metrics[f"recovery_s:{name}"] = prof.recovery_s(max(outages)) if outages else math.nan
    metrics[f"lag_accel_max:{name}"] = float(np.max(accel)) if accel.size else 0.0


__all__ = ["run", "load", "settings_of", "Messages"]

"""Kafka in a scenario: a topic (``topology.log``) read by consumer ``groups``.

The model ties the topic and its producer (:mod:`sim.models.log`) to the consumer groups
(:mod:`sim.models.groups`): it produces the messages before the run (the producer's
outcome decides every send's outcome when a log is present), starts one
:class:`~sim.models.groups.GroupSim` per group, and afterwards turns each group's
processings into a reader, its dead letters into a ``dlq:`` reader, and its position
updates into lag series: ``lag:group:g`` (messages), ``lag:group:g:p<k>`` per partition,
``lag_rate:group:g`` and ``lag_accel:group:g``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.analysis import metrics as mx
from sim.analysis.result import Series
from sim.core.faults import Fault
from sim.core.history import ReaderHistory
from sim.core.workload import Messages
from sim.models.base import Collected, Model, RunContext, Running
from sim.models.dlq import dead_letter_reader
from sim.models.groups import Group, GroupSim
from sim.models.log import Log, Topic, produce

_LOG_SETTINGS = (
    "partitions",
    "acks",
    "enable_idempotence",
    "retries",
    "retention_ms",
    "retention_bytes",
    "linger_ms",
)


class KafkaModel(Model):
    """Kafka in a scenario: ``topology.log`` and ``consumers.groups``."""

    section = "log"
    settings = Log
    readers_field = "groups"
    reader = Group
    reader_kind = "group"
    targets = ("group", "partition", "log")
    seed_streams = ("producer", "groups")
    precedence = 3
    doc = "a Kafka topic (``log``) read by consumer ``groups``"

    def check_target(self, fault: Fault, topology: Any, consumers: Any) -> str | None:
        if fault.target_kind == "partition":
            n = 0 if topology.log is None else topology.log.partitions
            if fault.target_index[0] >= n:
                return f"the log has {n} partitions"
            return None
        return super().check_target(fault, topology, consumers)

    def settings_of(self, settings: Log, readers: tuple) -> dict[str, Any]:
        out: dict[str, Any] = {f"log.{k}": getattr(settings, k) for k in _LOG_SETTINGS}
        for i, g in enumerate(readers):
            out[f"group:{i}"] = (
                f"{g.consumers} consumers, {g.assignment}, commit={g.commit}, "
                f"max_poll_records={g.max_poll_records}, auto_offset_reset={g.auto_offset_reset}"
                + (f", protocol={g.protocol}" if g.protocol != "eager" else "")
                + (", static membership" if g.static_membership else "")
            )
        return out

    def start(self, settings: Log, readers: tuple, ctx: RunContext) -> Running:
        rng = np.random.default_rng(ctx.seeds["producer"])
        topic = produce(settings, ctx.msgs, ctx.faults, rng)
        seeds = ctx.seeds["groups"].spawn(max(len(readers), 1))
        groups = [
            GroupSim(
                ctx.env,
                i,
                g,
                topic,
                ctx.msgs,
                ctx.faults,
                np.random.default_rng(ss),
                ctx.end_time,
            )
            for i, (g, ss) in enumerate(zip(readers, seeds, strict=False))
        ]
        return _RunningKafka(topic, groups, ctx.msgs, ctx.faults)


class _RunningKafka(Running):
    def __init__(
        self, topic: Topic, groups: list[GroupSim], msgs: Messages, faults: tuple[Fault, ...]
    ) -> None:
        self.topic, self.groups, self.msgs, self.faults = topic, groups, msgs, faults
        self.all_appends: np.ndarray | None = None

    def outcome(self) -> np.ndarray:
        return self.topic.outcome.copy()

    def collect(self, outcome: np.ndarray, grid: np.ndarray) -> Collected:
        topic, msgs = self.topic, self.msgs
        n = len(msgs)
        out = Collected(partition=topic.partition)
        out.metrics["producer_duplicates"] = float(topic.duplicates_written)
        out.metrics["truncated_on_failover"] = float(topic.truncated)
        out.metrics["expired_sends"] = float(topic.expired)
        total = 0
        records = [gs.records() for gs in self.groups]  # frees every group's run-time buffers
        for gs in self.groups:
            ids, times, pp, off = records.pop(0)
            updates = gs.position_updates(times, pp, off)
            del pp, off
            expected, available = gs.masks(n)
            expected &= ~msgs.poison
            out.readers.append(ReaderHistory(gs.name, ids, times, expected, available))
            d_ids, d_t = gs.dead_letters()
            if msgs.poison.any():
                out.dead_letters.append(dead_letter_reader(gs.name, d_ids, d_t, msgs.poison))
            total += d_ids.size
            m = out.metrics
            m[f"dlq:{gs.name}"] = float(d_ids.size)
            m[f"dropped_poison:{gs.name}"] = float(gs.dropped_poison)
            m[f"rebalances:{gs.name}"] = float(gs.rebalances)
            m[f"redelivered:{gs.name}"] = float(gs.redelivered)
            m[f"skipped:{gs.name}"] = float(gs.skipped_by_retention + gs.skipped_uncommitted)
            if gs.stalls:  # (only where they can be non-zero: the goldens stay as they were)
                m[f"zombie_duplicates:{gs.name}"] = float(gs.zombie_duplicates)
            if gs.rebalances:
                m.update(gs.rebalance_metrics())
            del ids, times, expected, available
            self._lag(gs, *updates, grid, out)
            del updates
        self.all_appends = None
        if self.groups:
            out.dead_lettered = total
        counts = np.array([len(p) for p in topic.partitions], float)
        dur = msgs.window_s if msgs.window_s > 0 else 1.0
        for k, c in enumerate(counts):
            out.metrics[f"throughput_per_s:partition:{k}"] = float(c / dur)
        out.metrics["partition_skew"] = mx.skew(counts)
        return out

    def _lag(self, gs: GroupSim, ev_t, ev_p, ev_v, init, grid, out: Collected) -> None:
        """The group's lag series and metrics from its position updates."""
        parts = gs.parts
        start = gs.group.join_at_s
        appends = [p.append for p in parts]
        if self.all_appends is None:  # every group reads the same appends: sort them once
            self.all_appends = np.concatenate(appends) if appends else np.zeros(0)
            self.all_appends.sort()
        g = grid[grid >= start]
        prof, by_part = mx.lag_profile(
            appends, ev_t, ev_p, ev_v, start, g, init=init, all_appends=self.all_appends
        )
        total = prof.at(g)
        name, series, metrics = gs.name, out.series, out.metrics
        series[f"lag:{name}"] = Series(f"lag:{name}", g, total, "messages")
        for k in range(len(parts)):
            series[f"lag:{name}:p{k}"] = Series(f"lag:{name}:p{k}", g, by_part[k], "messages")
        rate, accel = mx.derivatives(g, total)
        series[f"lag_rate:{name}"] = Series(f"lag_rate:{name}", g, rate, "messages/s")
        series[f"lag_accel:{name}"] = Series(f"lag_accel:{name}", g, accel, "messages/s^2")
        metrics[f"peak_lag:{name}"] = prof.peak
        metrics[f"peak_lag_time_s:{name}"] = prof.peak_time
        metrics[f"catch_up_s:{name}"] = prof.catch_up_s()
        outages = [
            f.end_s
            for f in self.faults
            if (f.target_kind == "group" and f.target_index[0] == gs.index)
            or f.target in ("log",)
            or f.target_kind == "partition"
        ]
        metrics[f"recovery_s:{name}"] = prof.recovery_s(max(outages)) if outages else math.nan
        metrics[f"lag_accel_max:{name}"] = float(np.max(accel)) if accel.size else 0.0

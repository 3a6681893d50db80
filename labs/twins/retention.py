"""The retention twin: when the log start offset moves, and what a late group finds.

The real half is :func:`labs.retention.run_retention` (a topic with small ``segment.ms``
and ``retention.ms``, records at a rate, a probe polling the log start offset, a late
group with ``auto_offset_reset='earliest'``). The simulator half feeds the records' real
CreateTimes (run time) to the simulator's log (:mod:`sim.models.segments`) with the same
``segment.ms``, ``retention.ms`` and the broker's ``log.retention.check.interval.ms``
(a broker setting, no per-topic override: the prediction uses the broker's value), and
reads its log start offset at the lab's instants.

The broker's retention checks run every interval from a phase set at its start-up (its
first check is 30 s after it); the twin measures that phase from the jumps the probe saw
(the earliest residue modulo the interval) and runs the simulator's checks on it -- a
broker state measured in the run, as other twins take the rejoin time the run showed.

Tolerances: a jump is seen up to one polling period (:data:`labs.retention.POLL_S`) plus
a ListOffsets round trip (:data:`LIST_OFFSETS_S`) after it happened; segment boundaries
are exact up to :data:`BATCH_RECORDS` records (the broker rolls per producer batch, the
simulator per record); the late group's count is exact up to a batch, plus whatever a
deletion between its join and its first fetch moves (the instant it reset to the log start
is somewhere in between). The theory's first deletion does not know the phase: half a
check interval either way.
"""

from __future__ import annotations

import numpy as np

from labs.experiments.retention import RETENTION
from labs.retention import POLL_S
from labs.twins.calibrate import Calibration
from labs.twins.common import simulate
from labs.twins.core import Twin
from labs.twins.result import Row
from sim import Group, Log
from sim.analysis.result import Result
from sim.core.scenario import Consumers, Scenario, Topology, Workload
from sim.core.workload import Messages
from sim.models.log import Partition, produce
from sim.models.segments import segment_starts

#: Records a producer batch may hold at these rates (a segment rolls between batches).
BATCH_RECORDS = 3
#: Time a ListOffsets request of the probe may take on a busy machine (s).
LIST_OFFSETS_S = 0.1


class RetentionTwin(Twin):
    """Whole segments expire: the log start offset jumps segment by segment, never before
    ``retention.ms``; a late group finds what the undeleted segments hold."""

    EXPERIMENT = RETENTION
    name = "retention"
    summary = "segment retention: when the log start offset moves; what a late group finds"
    SEND_TIMES_FROM_LAB = False

    def log(self, real: Result) -> Log:
        # Kafka rolls when a timestamp is more than segment.ms (integer ms) after the
        # segment's first: half a millisecond more keeps float ties out.
        return Log(
            partitions=1,
            network_delay_ms=0.0,
            segment_ms=self.segment_ms + 0.5,
            retention_ms=float(self.retention_ms),
            retention_check_interval_ms=float(real.metrics["retention_check_interval_ms"]),
        )

    def check_shift_s(self, real: Result) -> float:
        """The shift of the clock that puts the broker's retention checks at multiples of
        the interval (the simulator's schedule): measured from the earliest residue of the
        jumps the probe saw, as a twin measures a rejoin time (0 if none was seen)."""
        interval = real.metrics["retention_check_interval_ms"] / 1000.0
        series = real.series["log_start_offset"]
        jumps = np.asarray(series.t)[np.flatnonzero(np.diff(series.value)) + 1]
        if jumps.size == 0:
            return 0.0
        r = np.mod(jumps, interval)
        d = np.mod(r - r[0] + interval / 2, interval) - interval / 2
        phase = np.mod(r[0] + d.min(), interval)
        return float(np.mod(interval - phase, interval))

    def messages(self, real: Result) -> Messages:
        """The lab's records at their CreateTimes (run time), on the shifted clock."""
        t = np.asarray(real.series["create_time"].value, float) + self.check_shift_s(real)
        return Messages(
            publish_time=np.maximum.accumulate(t),
            keys=np.full(t.size, -1, np.int64),
            size=np.broadcast_to(np.int64(100), t.size),
            poison=np.zeros(t.size, bool),
        )

    def partition(self, real: Result) -> Partition:
        """The simulator's partition for the lab's records, back on the lab's clock."""
        shift = self.check_shift_s(real)
        rng = np.random.default_rng(self.seed)
        p = produce(self.log(real), self.messages(real), (), rng).partitions[0]
        return Partition(p.index, p.ids, p.append - shift, p.delete - shift, p.size)

    def simulate(self, cal: Calibration, real: Result | None = None) -> Result:
        shift = self.check_shift_s(real)
        group = Group(
            join_at_s=float(real.metrics["late_first_fetch_s"]) + shift,
            auto_offset_reset="earliest",
            rebalance_ms=0.0,
        )
        scenario = Scenario(
            name="retention twin",
            workload=Workload(rate_per_s=self.rate_per_s, duration_s=self.duration_s),
            topology=Topology(log=self.log(real)),
            consumers=Consumers(groups=(group,)),
            drain_s=2.0,
        )
        return simulate(scenario, self.messages(real), seed=self.seed, name="retention (twin)")

    def compare(self, real: Result, sim: Result, cal: Calibration) -> list[Row]:
        part = self.partition(real)
        check_s = real.metrics["retention_check_interval_ms"] / 1000.0
        r = self.retention_ms / 1000.0
        series = real.series["log_start_offset"]
        ts, lso = np.asarray(series.t), np.asarray(series.value, np.int64)
        jumps = np.flatnonzero(np.diff(lso)) + 1
        real_values, real_times = lso[jumps], ts[jumps]
        log = self.log(real)
        seg_first = segment_starts(
            part.append, part.size, log.segment_ms / 1000, log.segment_bytes, r, check_s
        )
        dist = [int(np.min(np.abs(seg_first - v))) if v < len(part) else 0 for v in real_values]
        # When the simulator's log start offset reached each value the probe saw.
        sim_times = np.array([part.delete[min(v, len(part)) - 1] for v in real_values])
        stamps = np.asarray(real.series["create_time"].value)
        kept_real = [real_times[k] - stamps[v - 1] for k, v in enumerate(real_values)]
        kept_sim = part.delete - part.append
        join, fetch = real.metrics["late_join_s"], real.metrics["late_first_fetch_s"]
        end = int(real.metrics["late_end_offset"])
        found_at = [end - min(part.start_offset(t), end) for t in (join, fetch)]
        # The real group reset to the log start somewhere between its join and its first
        # fetch: a deletion inside that window may or may not count.
        found_tol = BATCH_RECORDS + abs(found_at[0] - found_at[1])
        timing = POLL_S + LIST_OFFSETS_S
        first_real = float(real_times[0]) if jumps.size else float("nan")
        first_sim = float(part.delete[0]) if np.isfinite(part.delete[0]) else float("nan")
        seen_sim = np.unique(part.delete[(part.delete > ts[0]) & (part.delete <= ts[-1])]).size
        return [
            Row("records sent", float(self.rate_per_s * self.duration_s), float(len(part)),
                float(real.metrics["acked"]), tolerance=1),
            # (a jump within a polling period of the watch's end may fall on either side)
            Row("log start offset jumps seen", None, float(seen_sim), float(jumps.size),
                tolerance=1),
            Row("largest distance of a real log start offset from a simulated segment start "
                "(records)", 0.0, 0.0, float(max(dist, default=0)), tolerance=BATCH_RECORDS),
            Row("first deletion (s)", self.first_deletion_s(stamps, check_s), first_sim,
                first_real, tolerance=timing,
                theory_tolerance=check_s / 2 + 2 / self.rate_per_s + timing),
            Row("largest |real - simulated| time of a jump (s)", None, 0.0,
                float(np.max(np.abs(real_times - sim_times), initial=0.0)), tolerance=timing),
            Row("shortest time a record was kept (s), >= retention.ms", r,
                float(np.min(kept_sim)) if kept_sim.size else float("nan"),
                float(np.min(kept_real)) if kept_real else float("nan"), tolerance=timing),
            Row("deletions before retention.ms (count)", 0.0, float((kept_sim <= r).sum()),
                float(sum(k <= r for k in kept_real)), tolerance=0),
            Row(f"records the late group found (joined at {join:.2f} s, fetched at {fetch:.2f} s)",
                None, float(found_at[1]), float(real.metrics["late_found"]),
                tolerance=found_tol),
        ]  # fmt: skip

    def first_deletion_s(self, stamps: np.ndarray, check_s: float) -> float:
        """Theory: the first segment holds the records of ``segment.ms`` after the first
        send (all of them if sending stops sooner); it goes at the first check after its
        newest is ``retention.ms`` old: plus half a check interval on average (the checks'
        phase is unknown to the theory)."""
        newest = min(stamps[0] + self.segment_ms / 1000, stamps[-1])
        return newest + self.retention_ms / 1000 + check_s / 2

    def notes(self) -> tuple[str, ...]:
        return (
            "the broker checks retention every log.retention.check.interval.ms (a broker "
            "setting, no per-topic override; the course's stack sets 1000 ms) from a phase "
            "set at its start-up: the twin measures that phase from the jumps the probe saw "
            "and runs the simulator's checks on it.",
        )

"""The retention twin: when the log start offset moves, and what a late group finds.

The real half is :func:`labs.retention.run_retention` (a topic with small ``segment.ms``
and ``retention.ms``, records at a rate, a probe polling the log start offset, a late
group with ``auto_offset_reset='earliest'``). The simulator half feeds the lab's records to
the simulator's log (:mod:`sim.models.segments`), each at its producer batch's largest
CreateTime (the broker rolls and expires segments per batch), with the same
``segment.ms``, ``retention.ms`` and the broker's ``log.retention.check.interval.ms`` (a
broker setting, no per-topic override: the prediction uses the broker's value).

The broker's retention checks run every interval from a phase set at its start-up (the
stack sets ``log.initial.task.delay.ms=1000``, an internal setting of Kafka 3.8+, so the
first check comes 1 s after start-up instead of Kafka's 30 s); the twin measures that
phase from the jumps the probe saw (each happened between two of its answers; the phase
common to the most of those windows) and runs the
simulator's checks on it -- a broker state measured in the run, as other twins take the
rejoin time the run showed.

Tolerances: a jump seen in the probe's answer k happened after answer k-1 was asked for,
so the simulator's time for it must fall in that measured window (plus
:data:`TIME_SLACK_S` for millisecond timestamps); segment boundaries are exact up to
:data:`BATCH_RECORDS` records; the late group's count is exact up to that, plus whatever a
deletion between its join and the end of its read moves (it reset to the log start when it
joined, and a segment deleted while it read loses the records it had not read yet). The
theory's first deletion does not know the phase: half a check interval either way. The
phase itself is known to +-its measured error, so the simulator also runs with the checks
at both ends of that range (a segment that expires within the error of a check may go at
that check or the next) and a real jump or count agrees with any of the three runs.
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

#: Slack on segment boundaries (records): the simulator rolls on the lab's batches, so
#: boundaries agree exactly unless two batches share a millisecond across segment.ms.
BATCH_RECORDS = 3
#: Time a ListOffsets request of the probe may take on a busy machine (s): only for
#: measuring the checks' phase (the comparison uses each answer's measured window).
LIST_OFFSETS_S = 0.1
#: Timestamps are milliseconds and the two clocks (wall for CreateTime, monotonic for the
#: run) are read separately: a few milliseconds of slack on every time comparison.
TIME_SLACK_S = 0.005


def batch_times(real: Result) -> np.ndarray:
    """Each record's producer batch's largest CreateTime (run time, s)."""
    t = np.asarray(real.series["create_time"].value, float)
    batch = np.asarray(real.series["batch"].value, np.int64)
    largest = np.full(int(batch.max()) + 1 if batch.size else 0, -np.inf)
    np.maximum.at(largest, batch, t)
    return largest[batch]


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

    def check_phase(self, real: Result) -> tuple[float, float]:
        """The broker's retention-check phase (s, modulo the interval) and its uncertainty
        (half-width, s), measured from the jumps the probe saw: jump k happened between
        the asking of answer k-1 and answer k; the phases (1 ms grid) inside the most such
        windows form a range, and its middle is taken. ``(0, interval)`` without jumps."""
        interval = real.metrics["retention_check_interval_ms"] / 1000.0
        series = real.series["log_start_offset"]
        asked = np.asarray(real.series["log_start_asked"].value)
        jumps = np.flatnonzero(np.diff(series.value)) + 1
        if jumps.size == 0:
            return 0.0, interval
        lo, hi = asked[jumps - 1] - TIME_SLACK_S, np.asarray(series.t)[jumps] + TIME_SLACK_S
        grid = np.arange(0.0, interval, 0.001)
        # phase g is inside window k if some g + m * interval lies in [lo_k, hi_k]
        inside = np.mod(grid[:, None] - lo[None, :], interval) <= (hi - lo)[None, :]
        count = inside.sum(axis=1)
        best = grid[count == count.max()]
        # the best phases form one range (modulo the interval): centre it
        gaps = np.diff(np.concatenate((best, [best[0] + interval])))
        start = best[(int(np.argmax(gaps)) + 1) % best.size]
        width = interval - float(gaps.max()) if best.size > 1 else 0.0
        return float(np.mod(start + width / 2, interval)), width / 2 + 0.001

    def check_shift_s(self, real: Result) -> float:
        """The shift of the clock that puts the broker's retention checks at multiples of
        the interval (the simulator's schedule)."""
        interval = real.metrics["retention_check_interval_ms"] / 1000.0
        return float(np.mod(interval - self.check_phase(real)[0], interval))

    def messages(self, real: Result, shift: float | None = None) -> Messages:
        """The lab's records on the shifted clock, each at its producer batch's largest
        CreateTime: the broker rolls a segment per batch, when the batch's largest timestamp
        is more than segment.ms after the segment's first batch's. ``shift`` defaults to
        :meth:`check_shift_s`."""
        t = batch_times(real) + (self.check_shift_s(real) if shift is None else shift)
        return Messages(
            publish_time=np.maximum.accumulate(t),
            keys=np.full(t.size, -1, np.int64),
            size=np.broadcast_to(np.int64(100), t.size),
            poison=np.zeros(t.size, bool),
        )

    def partition(self, real: Result, phase_offset_s: float = 0.0) -> Partition:
        """The simulator's partition for the lab's records, back on the lab's clock, with
        the broker's checks ``phase_offset_s`` earlier than the measured phase."""
        shift = self.check_shift_s(real) + phase_offset_s
        rng = np.random.default_rng(self.seed)
        p = produce(self.log(real), self.messages(real, shift), (), rng).partitions[0]
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
        # The phase is known to +-phase_error: a segment whose expiry falls that close to a
        # check may go at that check or at the next, so the simulator runs at both ends of
        # the phase's range too and a real value agrees with any of the three.
        phase_error = self.check_phase(real)[1]
        variants = [self.partition(real, d) for d in (0.0, -phase_error, phase_error)]
        part = variants[0]
        check_s = real.metrics["retention_check_interval_ms"] / 1000.0
        r = self.retention_ms / 1000.0
        series = real.series["log_start_offset"]
        ts, lso = np.asarray(series.t), np.asarray(series.value, np.int64)
        asked = np.asarray(real.series["log_start_asked"].value)
        jumps = np.flatnonzero(np.diff(lso)) + 1
        real_values, real_times = lso[jumps], ts[jumps]
        # A jump seen in answer k happened after answer k-1 was asked for.
        since = asked[jumps - 1]
        log = self.log(real)
        seg_first = segment_starts(
            part.append, part.size, log.segment_ms / 1000, log.segment_bytes, r, check_s
        )
        dist = [int(np.min(np.abs(seg_first - v))) if v < len(part) else 0 for v in real_values]
        # When the simulator's log start offset reached each value the probe saw.
        every = np.array(
            [[p.delete[min(v, len(p)) - 1] for v in real_values] for p in variants]
        ).reshape(len(variants), real_values.size)
        sim_times = every[0]
        in_window = ((every >= since - TIME_SLACK_S) & (every <= real_times + TIME_SLACK_S)).any(
            axis=0
        )
        window = float(np.max(real_times - since, initial=POLL_S)) + TIME_SLACK_S
        stamps = batch_times(real)
        kept_real = [real_times[k] - stamps[v - 1] for k, v in enumerate(real_values)]
        kept_sim = part.delete - part.append
        join, done = real.metrics["late_join_s"], real.metrics["late_done_s"]
        end = int(real.metrics["late_end_offset"])
        found_at = [end - min(p.start_offset(t), end) for p in variants for t in (join, done)]
        # The real group reset to the log start when it joined and read for a while: a
        # deletion in between (the simulator's deletions are known to +-phase_error) removes
        # some records it had not read yet, how many depending on how far it had read. The
        # simulator's value is the middle of that range.
        found_sim = (min(found_at) + max(found_at)) / 2
        found_tol = BATCH_RECORDS + (max(found_at) - min(found_at)) / 2
        first_real = float(real_times[0]) if jumps.size else float("nan")
        first_sim = float(part.delete[0]) if np.isfinite(part.delete[0]) else float("nan")
        first_window = float(real_times[0] - since[0]) + TIME_SLACK_S if jumps.size else 0.0
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
                first_real, tolerance=first_window,
                theory_tolerance=check_s / 2 + 2 / self.rate_per_s + first_window),
            Row("jumps whose simulated time falls in the polling window that saw them (share)",
                1.0, 1.0, float(in_window.mean()) if jumps.size else 1.0, tolerance=0),
            Row("largest |real - simulated| time of a jump (s)", None, 0.0,
                float(np.max(np.abs(real_times - sim_times), initial=0.0)), tolerance=None),
            Row("shortest time a record was kept (s), >= retention.ms", r,
                float(np.min(kept_sim)) if kept_sim.size else float("nan"),
                float(np.min(kept_real)) if kept_real else float("nan"), tolerance=window),
            Row("deletions before retention.ms (count)", 0.0, float((kept_sim <= r).sum()),
                float(sum(k <= r for k in kept_real)), tolerance=0),
            Row(f"records the late group found (joined at {join:.2f} s, done at {done:.2f} s)",
                None, float(found_sim), float(real.metrics["late_found"]),
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

"""The rebalance twin: which partitions stop, and for how long, when a member joins or leaves.

The real half is :func:`labs.rebalance.run_rebalance` (kafka-python for ``eager`` and
``cooperative``, confluent-kafka with ``group.protocol=consumer`` for ``consumer``). The
simulator half is a group with the same protocol, partitions and members, in which the same
member joins (it was away from before the group started) or leaves at the real event's
instant (:mod:`sim.models.rebalance`).

Calibration: one round (``rebalance_ms``) is the median span the real group's own
formation showed (members join one at a time before the event: each join is a rebalance of
the same protocol); with a single member there is none, and the round is taken as the
client's heartbeat interval (100 ms: how soon a member notices a rebalance). The
``consumer`` protocol's timing is the broker's ``group.consumer.heartbeat.interval.ms``
(5000 ms, Kafka's default; the course's broker does not change it).

Rows and tolerances:

- partitions that stop -- exact: theory (P for eager; the joiner's share
  floor(P/(m+1)) or the leaver's partitions floor(P/m) otherwise), simulator and real broker;
- unowned spans -- shown only: the same, but kafka-python's eager join now and then takes a
  second round (a partition then stops twice, each time briefly);
- longest stop (classic protocols): one round; tolerance 0.5 s -- a classic round on this
  machine takes from ~20 to ~300 ms (the heartbeat that notices the rebalance, JoinGroup and
  SyncGroup round trips, the members' poll loops on 2 shared cores); 0.5 s still tells a
  round from a session-timeout wait (6 s and more) or a heartbeat interval (5 s). On a
  loaded machine (a workshop of learners sharing two cores) the event's round is longer
  than the formation's by the time the lab's process could not run: the tolerance grows by
  the ``stalled_s`` the run measured in the same window (:mod:`labs.stalls`, 0 when quiet);
- consumer join: the joiner takes the moved partitions at its first heartbeat after joining,
  one interval after the join: simulator and real within 0.5 s (the joiner's own start-up,
  ~0.15 s, and a few heartbeat round trips);
- consumer leave, and a consumer join's longest stop: they depend on the other members'
  heartbeat phases, which the client does not expose: bounded by theory instead (at most
  one heartbeat interval, + 0.5 s).
"""

from __future__ import annotations

import dataclasses
import math
import time

from labs.experiments.rebalance import REBALANCE
from labs.rebalance import CLASSIC_HEARTBEAT_MS
from labs.twins.calibrate import Calibration
from labs.twins.core import Twin
from labs.twins.result import Row
from sim.analysis.result import Result
from sim.core.scenario import Scenario
from sim.course.rebalancing import JOIN_AT_S, membership_change
from sim.models.rebalance import moved_on

#: The broker's group.consumer.heartbeat.interval.ms (Kafka's default).
CONSUMER_HEARTBEAT_MS = 5000.0
#: Tolerance on times (s), see the module docstring.
TIME_TOL_S = 0.5


class RebalanceTwin(Twin):
    """A member joins or leaves: the partitions that stop and how long, per protocol, in
    theory, simulator and real broker alike.

    Parameters and ranges: :data:`labs.experiments.rebalance.TWIN`.
    """

    EXPERIMENT = REBALANCE

    name = "rebalance"
    summary = "partitions that stop on a join or leave, and for how long, per protocol"
    SEND_TIMES_FROM_LAB = False

    def calibrate(self) -> Calibration:
        """Nothing to measure beforehand: the round comes from the real run itself."""
        nan = float("nan")
        return Calibration(
            pubsub_latency_ms=nan,
            resubscribe_ms=nan,
            kafka_latency_ms=nan,
            rejoin_ms=float(CLASSIC_HEARTBEAT_MS),
            service_rate_per_s=nan,
            effective_rate_per_s=nan,
            service_overhead_ms=nan,
            duration_s=0.0,
            measured_at=time.strftime("%Y-%m-%d %H:%M:%S"),
        )

    def measured_in_run(self, cal: Calibration, real: Result) -> Calibration:
        round_ms = float(real.metrics["round_ms"])
        if self.protocol == "consumer" or not math.isfinite(round_ms):
            return cal
        return cal.with_run_rejoin(round_ms)

    def moved(self) -> int:
        """Partitions that stop (theory: :func:`sim.models.rebalance.moved_on`)."""
        return moved_on(self.protocol, self.event, self.partitions, self.members)

    def sim_scenario(self, cal: Calibration, event_s: float, end_s: float) -> Scenario:
        scenario = membership_change(
            protocol=self.protocol,
            event=self.event,
            partitions=self.partitions,
            members=self.members,
            rebalance_ms=cal.rejoin_for_run_ms,
            heartbeat_interval_ms=CONSUMER_HEARTBEAT_MS,
            event_s=event_s,
            end_s=end_s,
        )
        return dataclasses.replace(scenario, name="rebalance twin")

    def simulate(self, cal: Calibration, real: Result | None = None) -> Result:
        import sim

        event_s = float(real.metrics["event_s"]) if real is not None else 5.0
        event_s = max(event_s, JOIN_AT_S + 0.5)
        end_s = event_s + 30.0  # the consumer protocol may take up to a heartbeat interval
        return sim.run(self.sim_scenario(cal, event_s, end_s), seed=self.seed)

    def compare(self, real: Result, sim: Result, cal: Calibration) -> list[Row]:
        g = "group:0"
        rm, sm = real.metrics, sim.metrics
        event_s = max(float(rm["event_s"]), JOIN_AT_S + 0.5)
        r_s = cal.rejoin_for_run_ms / 1000.0
        h_s = CONSUMER_HEARTBEAT_MS / 1000.0
        sim_back = sm.get(f"last_reowned_s:{g}", math.nan) - event_s
        rows = [
            Row(
                "partitions that stop",
                float(self.moved()),
                sm.get(f"unowned_spans:{g}", 0.0),
                float(rm["stopped_partitions"]),
            ),
            # (info: kafka-python's eager join now and then takes a second round)
            Row("unowned spans", float(self.moved()), sm.get(f"unowned_spans:{g}", 0.0),
                float(rm["unowned_spans"]), tolerance=None),
        ]  # fmt: skip
        if self.protocol == "consumer" and self.event == "join":
            rows.append(
                Row("join -> moved partitions owned again (s)", h_s, sim_back,
                    float(rm["reowned_s"]), tolerance=TIME_TOL_S)
            )  # fmt: skip
        elif self.protocol == "consumer":
            rows.append(
                Row("leave -> owned again (s), at most one heartbeat", h_s / 2, sim_back,
                    float(rm["reowned_s"]), tolerance=h_s, theory_tolerance=h_s / 2 + TIME_TOL_S)
            )  # fmt: skip
        longest_s, longest_r = sm.get(f"max_unowned_s:{g}", 0.0), float(rm["max_unowned_s"])
        if self.protocol == "consumer":
            rows.append(
                Row("longest stop (s), at most one heartbeat", h_s / 2, longest_s, longest_r,
                    tolerance=h_s, theory_tolerance=h_s / 2 + TIME_TOL_S)
            )  # fmt: skip
        else:
            tol = TIME_TOL_S + float(rm.get("stalled_s", 0.0))  # see the module docstring
            rows.append(Row("longest stop (s)", r_s, longest_s, longest_r, tolerance=tol))
        rows.append(
            Row("lost (every member reads to the end)", 0.0, 0.0,
                float(real.report["group:members"].lost))
        )  # fmt: skip
        return rows

    def notes(self) -> tuple[str, ...]:
        client = "confluent-kafka" if self.protocol == "consumer" else "kafka-python"
        return (
            f"real group: {client}; one round (rebalance_ms) = the median span of the real "
            "group's own formation rebalances (the client's 100 ms heartbeat interval when "
            "there were none); consumer protocol: heartbeats every 5000 ms (broker default).",
        )

    def run_notes(self, real: Result) -> tuple[str, ...]:
        stalled = float(real.metrics.get("stalled_s", 0.0))
        if stalled <= 0 or self.protocol == "consumer":
            return ()
        return (
            f"the lab's process could not run for {stalled:.2f} s between the event and the "
            "last partition owned again (its CPU went to other processes: a loaded machine); "
            "the longest stop's tolerance grows by that much.",
        )

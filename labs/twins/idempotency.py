"""The idempotency twin: duplicates after a crash at message k, and none with deduplication.

The real half is :func:`labs.idempotency.run_idempotency`: ``messages`` events on a
one-partition topic; a consumer that commits after every ``commit_every`` processed messages
is killed right after the side effect of message number ``crash_after`` (= k); a new member
resumes from the last committed offset. Once plain (at least once), once with a dedupe store
(``SET NX`` of the event id in Redis before the side effect).

The simulator half: the same messages, all in the log before the group joins; a member that
processes one record per step ``STEP_MS`` and commits every ``commit_every`` records (an
auto-commit whose ticks fall just after every ``commit_every``-th record completes), and a
``consumer_crash`` a quarter step after record k completed -- after its side effect, before
anything else. The second group uses the simulator's ``idempotent`` commit policy (a dedupe
store). The simulator's clock is only an ordering device here: duplicates do not depend on
timing.

Theory (commit after processing): the restart reprocesses everything since the last commit,
``duplicates = k - commit_every * floor((k - 1) / commit_every)`` (at a batch boundary the
crash comes before that batch's commit); with the dedupe store, 0 duplicated side effects.

>>> IdempotencyTwin(crash_after=25, commit_every=10).predicted_duplicates()
5
>>> IdempotencyTwin(crash_after=30, commit_every=10).predicted_duplicates()
10
"""

from __future__ import annotations

import math

from labs.experiments.idempotency import IDEMPOTENCY
from labs.twins.calibrate import Calibration
from labs.twins.common import same_keys
from labs.twins.core import Twin
from labs.twins.result import Row
from sim import Group, Log
from sim.analysis.result import Result
from sim.core.distributions import Service
from sim.core.scenario import Consumers, Fault, Scenario, Topology, Workload

#: The simulated consumer's processing time per record (ms) and the producer's send spacing.
STEP_MS = 10.0
SEND_SPACING_S = 1e-4
#: Reader names: simulator group index -> the lab's group.
READERS = {"group:0": "group:commit-after", "group:1": "group:idempotent"}


class IdempotencyTwin(Twin):
    """Crash after message k with commits every c: duplicates = k - last commit, in theory,
    simulator and real broker alike; 0 duplicated side effects with a dedupe store.

    Parameters and ranges: :data:`labs.experiments.idempotency.TWIN`.
    """

    EXPERIMENT = IDEMPOTENCY

    name = "idempotency"
    SEND_TIMES_FROM_LAB = False  # the crash point is placed on the simulator's own clock
    summary = "crash at message k, commit every c: duplicates = k - last commit; 0 if idempotent"

    def calibrate(self) -> Calibration:
        from labs.twins.calibrate import calibrate

        return calibrate(rate_per_s=50.0, service_rate_per_s=1000.0 / STEP_MS)

    def last_commit(self) -> int:
        """Offset committed when the consumer crashes after the side effect of message k."""
        return self.commit_every * ((self.crash_after - 1) // self.commit_every)

    def predicted_duplicates(self) -> int:
        return self.crash_after - self.last_commit()

    def scenario(self, cal: Calibration) -> Scenario:
        s = STEP_MS / 1000.0
        c, k, n = self.commit_every, self.crash_after, self.messages
        delay = cal.kafka_latency_ms / 1000.0
        # Join at J = M*c*s - s/2, after every record is in the log: record i (1-based)
        # completes at J + i*s, and the auto-commit tick at (M + m)*c*s = J + m*c*s + s/2
        # commits exactly m*c records.
        ready = (n - 1) * SEND_SPACING_S + delay + s
        m0 = math.ceil((ready + s / 2) / (c * s))
        join = m0 * c * s - s / 2
        crash = join + (k + 0.25) * s
        groups = tuple(
            Group(
                commit=policy,
                auto_commit_interval_ms=c * STEP_MS,
                max_poll_records=c,
                service=Service("constant", STEP_MS),
                session_timeout_ms=60_000.0,
                rebalance_ms=cal.rejoin_ms,
                join_at_s=join,
                auto_offset_reset="earliest",
            )
            for policy in ("auto", "idempotent")
        )
        return Scenario(
            name="idempotency twin",
            workload=Workload(rate_per_s=1.0 / SEND_SPACING_S, messages=n, arrivals="constant"),
            topology=Topology(log=Log(partitions=1, network_delay_ms=cal.kafka_latency_ms)),
            consumers=Consumers(groups=groups),
            faults=tuple(
                Fault("consumer_crash", f"group:{g}:0", crash, s) for g in range(len(groups))
            ),
            drain_s=math.ceil((n + 10) * s + cal.rejoin_ms / 1000.0 + join + 1.0),
            lag_points=50,
        )

    def compare(self, real: Result, sim: Result, cal: Calibration) -> list[Row]:
        planned = self.workload()
        same = float(same_keys(real.history, planned.keys) and same_keys(sim.history, planned.keys))
        after_s, after_r = sim.report["group:0"], real.report[READERS["group:0"]]
        idem_s, idem_r = sim.report["group:1"], real.report[READERS["group:1"]]
        k = self.crash_after
        return [
            Row("same key sequence (1 = yes)", 1.0, 1.0, same),
            Row(
                "last commit before the crash",
                float(self.last_commit()),
                float("nan"),
                float(real.metrics["last_committed:group:commit-after"]),
                tolerance=None,
            ),
            Row(
                f"duplicates, commit after (crash at {k})",
                float(self.predicted_duplicates()),
                float(after_s.duplicated),
                float(after_r.duplicated),
            ),
            Row("lost, commit after", 0.0, float(after_s.lost), float(after_r.lost)),
            Row(
                "duplicated side effects, idempotent consumer",
                0.0,
                float(idem_s.duplicated),
                float(idem_r.duplicated),
            ),
            Row("lost, idempotent consumer", 0.0, float(idem_s.lost), float(idem_r.lost)),
        ]

    def notes(self) -> tuple[str, ...]:
        return (
            "the lab's at-most-once group (commit before processing) is not part of the twin; "
            "see `python -m labs run idempotency` for it.",
        )

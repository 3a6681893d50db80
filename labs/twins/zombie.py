"""The zombie twin: duplicated side effects after a stall past ``max.poll.interval.ms``.

The real half is :func:`labs.zombie.run_zombie`: a member committing after every batch of
``batch`` records stalls after ``batches_before`` batches and ``stall_at`` records; a second
member takes over from the last commit; the stalled one wakes, finishes its batch (side
effects) and its commit is rejected.

The simulator half: the same records, all in the log before the group joins; two members,
the first owning the partition (range assignment of one partition), processing one record
per step ``STEP_MS`` with ``max_poll_records = batch`` and commits after each batch; a
``consumer_stall`` of the first member a quarter step into record k + 1 (k = the side
effects before the real stall), longer than ``max_poll_interval_ms``
(:mod:`sim.models.zombie`). The simulator's clock is only an ordering device here: the
counts do not depend on timing.

Theory: the replacement starts at the last commit ``batches_before * batch``; the zombie
finishes ``batch - stall_at`` records after waking (``zombie duplicates``); with the
``stall_at`` records done before the stall and processed again by the replacement, the
duplicated side effects are ``batch``. Every row is exact.

>>> ZombieTwin(batch=20, batches_before=2, stall_at=7).predicted()
{'last_commit': 40, 'zombie_duplicates': 13, 'duplicated': 20}
"""

from __future__ import annotations

import math

from labs.experiments.zombie import ZOMBIE
from labs.twins.calibrate import Calibration, unmeasured
from labs.twins.core import Twin
from labs.twins.result import Row
from sim import Group, Log
from sim.analysis.result import Result
from sim.core.distributions import Service
from sim.core.scenario import Consumers, Fault, Scenario, Topology, Workload

#: The simulated member's processing time per record (ms), and the producer's spacing (s).
STEP_MS = 10.0
SEND_SPACING_S = 1e-4
#: The simulated max_poll_interval_ms and stall (s): the stall is the longer.
POLL_INTERVAL_MS = 1000.0
STALL_S = 4.0


class ZombieTwin(Twin):
    """A member stalls past max.poll.interval.ms mid-batch: its replacement redoes the batch
    from the last commit, the zombie finishes it anyway -- the same duplicated side effects in
    theory, simulator and real broker; the zombie's commit is rejected.

    Parameters and ranges: :data:`labs.experiments.zombie.TWIN`.
    """

    EXPERIMENT = ZOMBIE

    name = "zombie"
    summary = "stall past max.poll.interval.ms mid-batch: duplicates = the batch; commit rejected"
    SEND_TIMES_FROM_LAB = False  # the stall is placed on the simulator's own clock

    def calibrate(self) -> Calibration:
        """Nothing to measure: the counts do not depend on timing."""
        return unmeasured()

    def predicted(self) -> dict[str, int]:
        last = self.batches_before * self.batch
        zombie = self.batch - self.stall_at
        return {"last_commit": last, "zombie_duplicates": zombie, "duplicated": self.batch}

    def scenario(self, cal: Calibration) -> Scenario:
        s = STEP_MS / 1000.0
        n, k = self.messages, self.batches_before * self.batch + self.stall_at
        ready = (n - 1) * SEND_SPACING_S + s  # every record is in the log by then
        join = math.ceil(ready / s) * s
        group = Group(
            consumers=2,
            commit="after",
            max_poll_records=self.batch,
            service=Service("constant", STEP_MS),
            session_timeout_ms=60_000.0,
            max_poll_interval_ms=POLL_INTERVAL_MS,
            rebalance_ms=100.0,
            join_at_s=join,
            auto_offset_reset="earliest",
        )
        return Scenario(
            name="zombie twin",
            workload=Workload(rate_per_s=1.0 / SEND_SPACING_S, messages=n, arrivals="constant"),
            topology=Topology(log=Log(partitions=1, network_delay_ms=0.0)),
            consumers=Consumers(groups=(group,)),
            faults=(Fault("consumer_stall", "group:0:0", join + (k + 0.25) * s, STALL_S),),
            drain_s=math.ceil((n + 10) * s + STALL_S + 1.0),
            lag_points=50,
        )

    def simulate(self, cal: Calibration, real: Result | None = None) -> Result:
        import sim

        return sim.run(self.scenario(cal), seed=self.seed, name="zombie (twin)")

    def compare(self, real: Result, sim: Result, cal: Calibration) -> list[Row]:
        want = self.predicted()
        rs, ss = real.report["group:zombie"], sim.report["group:0"]
        rm = real.metrics
        return [
            Row("replacement starts at (last commit)", float(want["last_commit"]), float("nan"),
                float(rm["takeover_offset"]), tolerance=None),
            Row("zombie's side effects after it woke", float(want["zombie_duplicates"]),
                float(sim.metrics["zombie_duplicates:group:0"]), float(rm["zombie_duplicates"])),
            Row("duplicated side effects", float(want["duplicated"]), float(ss.duplicated),
                float(rs.duplicated)),
            Row("lost", 0.0, float(ss.lost), float(rs.lost)),
            Row("rebalances (removal, rejoin)", float("nan"),
                float(sim.metrics["rebalances:group:0"]), float("nan"), tolerance=None),
            Row("zombie's commit rejected (1 = yes)", 1.0, float("nan"),
                float(rm["commit_rejected"]), tolerance=None),
        ]  # fmt: skip

    def notes(self) -> tuple[str, ...]:
        return (
            "the real stall lasts stall_s (default 4 s) past max_poll_interval_ms (1 s); the "
            f"simulator's {STALL_S:g} s past {POLL_INTERVAL_MS:g} ms: the counts do not depend "
            "on these times as long as the replacement has taken over before the zombie wakes.",
        )

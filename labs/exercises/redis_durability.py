"""Lesson 15, part 3 (persistence and failover): predict what a Redis failover loses.

Built from the real run (the redis-durability lab, as the failover twin ran it), so the
expected value -- the acknowledged writes the promoted replica is missing -- is computed
only when checked or revealed (:mod:`labs.exercises.core`).
"""

from __future__ import annotations

from labs.exercises.core import Exercise
from sim.analysis.result import Result
from sim.models.replication import expected_failover_loss


def failover_lost(result: Result) -> Exercise:
    """Acknowledged writes lost when the primary died at the higher write rate."""
    rate, lag = float(result.params["high_rate_per_s"]), float(result.params["lag_ms"])
    theory = expected_failover_loss(rate_per_s=rate, lag_ms=lag)
    return Exercise(
        key="15-failover-lost",
        question=(
            f"The primary acknowledged writes at {rate:g}/s; its replica sat {lag:g} ms behind "
            "it on the link. The primary's machine died and the replica was promoted. How "
            "many acknowledged writes is the new primary missing?"
        ),
        expected=lambda: result.metrics["lost_on_failover:high"],
        solution=round(theory),
        explanation=(
            "Replication is asynchronous: the primary answers the client first and streams "
            f"the write to the replica, which gets it {lag:g} ms later. At the crash, every "
            f"write acknowledged in the last {lag:g} ms was still on the link: {rate:g}/s x "
            f"{lag / 1000:g} s = {theory:.3g} writes. The real count moves by a few (the "
            "writer sends a batch every 5 ms, the link's delay jitters)."
        ),
        rel_tol=0.25,
        hint="Which acknowledged writes had not reached the replica when the primary died?",
    )

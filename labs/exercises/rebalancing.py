"""The exercise of lesson 16 (rebalancing and zombies), checked on the real broker.

It asks for a prediction with this learner's numbers (:func:`~labs.exercises.core.for_learner`)
and runs the zombie lab only inside ``check`` or ``reveal``: Run All computes no answer.
"""

from __future__ import annotations

from labs.exercises.core import Exercise, for_learner
from labs.zombie import run_zombie

__all__ = ["CHOICES", "zombie_side_effects"]

#: Per exercise, the (batch, batches_before, stall_at) a learner may get.
CHOICES: dict[str, tuple] = {
    "16-zombie-side-effects": ((10, 1, 3), (12, 2, 5), (15, 1, 4), (8, 3, 2), (16, 1, 11)),
}


def zombie_side_effects() -> Exercise:
    """Lesson 16: what a member stalled past max.poll.interval.ms does twice."""
    key = "16-zombie-side-effects"
    batch, before, stall_at = for_learner(key, CHOICES[key])

    def counts() -> dict[str, int]:
        run = run_zombie(
            messages=(before + 2) * batch,
            batch=batch,
            batches_before=before,
            stall_at=stall_at,
            max_poll_interval_ms=1000,
            stall_s=3.0,
        )
        return {
            "zombie after waking": int(run.metrics["zombie_duplicates"]),
            "done twice": int(run.report["group:zombie"].duplicated),
        }

    return Exercise(
        key=key,
        question=(
            f"The zombie lab with **max_poll_records = {batch}**: the member commits after "
            f"every batch, does {before} full batch(es), then stalls for 3 s (past its 1 s "
            f"max.poll.interval.ms) after **{stall_at}** records of the next batch. A second "
            "member takes the partition over. How many side effects does the stalled member "
            "perform after it wakes up, and how many side effects happen twice in all? The "
            "check runs the real lab."
        ),
        expected=counts,
        solution={"zombie after waking": batch - stall_at, "done twice": batch},
        explanation=(
            f"The last commit was after {before} batch(es): offset {before * batch}. The "
            f"replacement starts there, so it redoes the {stall_at} records the member did "
            f"before its stall and the {batch - stall_at} it had not reached yet; the zombie "
            f"wakes with its fetched batch in hand and does those {batch - stall_at} as well. "
            f"Twice in all: {stall_at} + {batch - stall_at} = the whole batch, {batch}. Its "
            "commit is then rejected: the group has a new generation."
        ),
        hint="Where does the replacement start? And what is still in the zombie's hand?",
    )

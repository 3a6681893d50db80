"""The exercises of lesson 17 (compaction, transactions, the outbox), checked on the real broker.

Each asks for a prediction with this learner's numbers (:func:`~labs.exercises.core.for_learner`)
and runs the lab only inside ``check`` or ``reveal``: Run All computes no answer.
"""

from __future__ import annotations

from labs.compaction import run_compaction
from labs.exercises.core import Exercise, for_learner
from labs.outbox import BEFORE_COMMIT, crash_plan, run_outbox

__all__ = ["CHOICES", "compacted_records", "outbox_events"]

#: Per exercise, the (keys, updates per key, tombstoned keys) or (requests, relay batch,
#: relay crashes, seed) a learner may get.
CHOICES: dict[str, tuple] = {
    "17-compacted-records": ((8, 6, 2), (12, 5, 3), (10, 8, 1), (15, 4, 4), (9, 7, 3)),
    "17-outbox-events": ((60, 5, 2, 11), (70, 8, 1, 12), (90, 6, 3, 13), (80, 7, 2, 14)),
}


def compacted_records() -> Exercise:
    """Lesson 17: how many records a late reader of a compacted topic reads."""
    keys, updates, dead = for_learner("17-compacted-records", CHOICES["17-compacted-records"])
    written = keys * updates - dead * (updates - 1 - updates // 2) + dead + 1

    def left() -> int:
        run = run_compaction(keys=keys, updates_per_key=updates, tombstoned_keys=dead)
        return int(run.metrics["records_left"])

    return Exercise(
        key="17-compacted-records",
        question=(
            f"The compaction lab with **{keys} keys**, **{updates} updates per key** and "
            f"**{dead} key(s) deleted** by a tombstone halfway: {written} records written in "
            "all, the last update a segment after the others (it rolls the segment), and one "
            "more update of that key once the tombstones' delete.retention.ms has passed. "
            "When the cleaner is done, how many records does the late reader read? The check "
            "runs the real lab."
        ),
        expected=left,
        solution=keys - dead + 1,
        explanation=(
            f"The cleaned part keeps one record per key that is still alive: {keys - dead}; "
            "the tombstones went with their keys once delete.retention.ms had passed and the "
            "cleaner ran again. The active segment is never cleaned: the last update sits "
            "there, and the older record of its key stays in the cleaned part, because the "
            f"cleaner only knows the keys of the part it cleans: {keys - dead} + 1."
        ),
        hint="One per live key -- and what does the cleaner never touch?",
    )


def outbox_events() -> Exercise:
    """Lesson 17: events the outbox consumer reads, before and after deduplication."""
    requests, batch, relay_crashes, seed = for_learner(
        "17-outbox-events", CHOICES["17-outbox-events"]
    )
    crash_fraction = 0.2
    plan = crash_plan(requests, crash_fraction, seed)
    before = int((plan == BEFORE_COMMIT).sum())
    after = int((plan > 0).sum()) - before

    def counts() -> dict[str, int]:
        run = run_outbox(
            requests=requests,
            crash_fraction=crash_fraction,
            relay_batch=batch,
            relay_crashes=relay_crashes,
            seed=seed,
        )
        raw = run.report["consumer:outbox"]
        return {
            "events read": int(raw.processed + raw.extra),
            "distinct orders": int(run.report["consumer:outbox-deduped"].processed),
        }

    committed = requests - before
    return Exercise(
        key="17-outbox-events",
        question=(
            f"The outbox design handles **{requests} orders**; {after} requests crash right "
            f"after the database commit and {before} right before it. The relay publishes "
            f"batches of **{batch}** and crashes **{relay_crashes}** time(s) after a batch was "
            "acknowledged, before marking it sent. How many events does the consumer read, "
            "and how many distinct orders are left after deduplication by event id? The check "
            "runs the real lab."
        ),
        expected=counts,
        solution={
            "events read": committed + relay_crashes * batch,
            "distinct orders": committed,
        },
        explanation=(
            f"A crash before the commit rolls back the order and its outbox row together: "
            f"{requests} - {before} = {committed} orders exist, each with its event. A crash "
            "after the commit leaves both, and the relay publishes the event later. Each relay "
            f"crash publishes its batch again: {relay_crashes} x {batch} duplicates, which "
            "the deduplication removes."
        ),
        hint="Which crashes leave an outbox row? And what does a relay crash repeat?",
    )

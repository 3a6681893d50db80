"""The exercises of lessons 00-06, each built from the lesson's own scenario or lab.

One function per exercise; the lesson calls it with what it already has (a scenario, a
result) and gets an :class:`~labs.exercises.core.Exercise` whose expected value is a run
made only when the learner checks an answer or asks for the reveal. Where the numbers
would otherwise be the same for everybody, the exercise's parameters come from
:func:`~labs.exercises.core.for_learner`: fixed for one learner, most often not a neighbour's,
and never the parameters of a run the lesson prints.
"""

from __future__ import annotations

from typing import Any

import sim
from labs.exercises.core import Exercise, for_learner
from labs.idempotency import run_idempotency
from labs.stack.smoke import publish_receivers
from sim.analysis.metrics import partition_counts

__all__ = [
    "CHOICES",
    "bootstrap_loss",
    "commit_positions",
    "deploy_loss",
    "hot_partition_limit",
    "partitions_per_key",
    "publish_receipts",
    "subscriber_loss",
]

#: Each learner's parameters are drawn from these (:func:`for_learner`), by key. None of
#: them is the setting of a run the lesson prints (its answer would be on the page).
CHOICES: dict[str, tuple[Any, ...]] = {
    "00-publish-receipts": (2, 3, 4, 5, 6),
    "01-subscriber-loss/rate": (80, 120, 150, 200),  # the lesson prints 100 events/s
    "01-subscriber-loss/minutes": (4, 7, 12, 15),  # ... and a 10-minute outage
    "02-deploy-loss/rate": (500, 800),
    "02-deploy-loss/period": (5, 10, 15),
    "02-deploy-loss/down": (10, 12, 20, 30),
    # (join minute, retention minutes); the lesson prints (60, 45)
    "03-bootstrap-loss": ((50, 30), (50, 35), (70, 45), (70, 50), (75, 40), (80, 60)),
    "04-partitions-per-key": (3, 5, 6, 8),  # the lesson's topic has 4 partitions
    "05-hot-partition-limit": (400, 450, 550, 600, 650),  # the scenario's consumers: 500/s
    # crash points, not on a commit (a multiple of 10) nor the lesson's own 25
    "06-commit-positions": (33, 34, 36, 37, 38, 42, 43, 44, 46, 47, 48, 52, 53, 56, 57),
}


def _pick(key: str) -> Any:
    return for_learner(key, CHOICES[key])


def publish_receipts() -> Exercise:
    """Lesson 00: what PUBLISH returns with nobody subscribed and with n subscribers."""
    n = _pick("00-publish-receipts")
    return Exercise(
        key="00-publish-receipts",
        question=(
            f"What does `PUBLISH` return when **nobody** is subscribed to the channel, and "
            f"when **{n}** clients are? Answer with two numbers: `(nobody, {n} clients)`."
        ),
        expected=lambda: (publish_receivers(0), publish_receivers(n)),
        solution=(0, n),
        explanation=(
            "`PUBLISH` returns the number of clients that received the message. With nobody "
            f"subscribed the message is simply dropped -- Redis returns 0 and stores nothing; "
            f"with {n} subscribers each gets its copy, and the receipt says {n}."
        ),
        hint="PUBLISH counts receivers.",
    )


def subscriber_loss(scenario: Any, seed: int = 1) -> Exercise:
    """Lesson 01: events a Pub/Sub subscriber loses, at this learner's rate and downtime.

    ``scenario`` is the lesson's ten-minute scenario (faults 0 and 1 are the two outages).
    """
    rate = _pick("01-subscriber-loss/rate")
    minutes = _pick("01-subscriber-loss/minutes")
    changes = {f"faults.{i}.duration_s": 60 * minutes for i in (0, 1)}
    changes["workload.rate_per_s"] = rate

    def lost() -> int:
        run = sim.run(sim.load(scenario).with_changes(**changes), seed=seed)
        return run.report["subscriber:0"].lost

    return Exercise(
        key="01-subscriber-loss",
        question=(
            f"Take the ten-minute scenario, but with **{rate} events/s** and both readers "
            f"down for **{minutes} minutes**. How many events does the Pub/Sub subscriber "
            "lose? Estimate it from the rate and the downtime."
        ),
        expected=lost,
        solution=rate * 60 * minutes,
        explanation=(
            "A subscriber that is away misses everything published meanwhile: rate x "
            f"downtime = {rate} events/s x {60 * minutes} s. Arrivals are random (Poisson), "
            "so the simulated count is close to that, not exact."
        ),
        rel_tol=0.05,
        hint="rate x downtime.",
    )


def deploy_loss(scenario: Any, seed: int = 3) -> Exercise:
    """Lesson 02: the fraction of events a redeployed subscriber misses.

    ``scenario`` is the lesson's one-minute scenario (one outage, ``faults.0``, at 10 s,
    reconnecting at once); the exercise stretches it to one deploy period.
    """
    rate = _pick("02-deploy-loss/rate")
    period_min = _pick("02-deploy-loss/period")
    down_s = _pick("02-deploy-loss/down")
    changes = {
        "workload.rate_per_s": rate,
        "workload.duration_s": 60 * period_min,
        "faults.0.duration_s": down_s,
    }

    def fraction() -> float:
        run = sim.run(sim.load(scenario).with_changes(**changes), seed=seed)
        return run.report["subscriber:0"].loss_fraction

    return Exercise(
        key="02-deploy-loss",
        question=(
            f"A cache-invalidation subscriber receives {rate} events/s (Poisson) and is "
            f"redeployed once every {period_min} minutes; each deploy disconnects it for "
            f"{down_s} s. What **fraction** of the invalidations does it miss (e.g. 0.1 for "
            "10 %)? The check runs the simulator on that scenario."
        ),
        expected=fraction,
        solution=down_s / (60 * period_min),
        explanation=(
            "Loss fraction = downtime fraction: Poisson arrivals see time averages, so the "
            f"subscriber misses {down_s} s / {60 * period_min} s of the events -- whatever "
            "the rate."
        ),
        rel_tol=0.05,
        hint="Does the rate matter? Think downtime / window.",
    )


def bootstrap_loss(scenario: Any, seed: int = 1) -> Exercise:
    """Lesson 03: orders a late group can never read, joining past retention.

    ``scenario`` is ``new_service_bootstrap`` (``group:1`` is the late group); the learner
    gets a join time and a retention of their own.
    """
    join_min, retention_min = _pick("03-bootstrap-loss")
    base = sim.load(scenario)
    changes = {
        "consumers.groups.1.join_at_s": 60 * join_min,
        "topology.log.retention_ms": 60_000 * retention_min,
    }

    def lost() -> int:
        return sim.run(base.with_changes(**changes), seed=seed).report["group:1"].lost

    rate = base.workload.rate_per_s
    return Exercise(
        key="03-bootstrap-loss",
        question=(
            f"In the bootstrap scenario ({rate:g} orders/s), the recommendations service now "
            f"joins at **minute {join_min}** and the topic keeps events for **{retention_min} "
            "minutes**. How many orders can it never read?"
        ),
        expected=lost,
        solution=int(rate * 60 * (join_min - retention_min)),
        explanation=(
            f"At minute {join_min} the log holds only the last {retention_min} minutes; the "
            f"first {join_min - retention_min} minutes are deleted: {rate:g} orders/s x "
            f"{join_min - retention_min} min x 60 s. Arrivals are Poisson and the broker "
            "deletes whole segments, so the count is close rather than exact."
        ),
        rel_tol=0.05,
        hint=f"What had passed retention at minute {join_min}?",
    )


def partitions_per_key(scenario: Any, seed: int = 0) -> Exercise:
    """Lesson 04: partitions one key's events reach, with a stable key and with none.

    ``scenario`` is the lesson's accounts scenario; the learner gets a partition count.
    """
    partitions = _pick("04-partitions-per-key")
    base = sim.load(scenario).with_changes(**{"topology.log.partitions": partitions})

    def counts() -> dict[str, int]:
        keyed = sim.run(base, seed=seed).history
        per_key = max(
            len(set(keyed.partition[keyed.keys == k].tolist())) for k in set(keyed.keys.tolist())
        )
        no_key = sim.run(base.with_changes(**{"workload.key_distribution": "none"}), seed=seed)
        return {"accountId": per_key, "no key": len(set(no_key.history.partition.tolist()))}

    return Exercise(
        key="04-partitions-per-key",
        question=(
            f"The accounts topic now has **{partitions} partitions**. Into how many of them do "
            "one account's events go -- with `accountId` as the key, and with no key at all? "
            'Answer `{"accountId": ..., "no key": ...}`; the check counts it in simulator runs.'
        ),
        expected=counts,
        solution={"accountId": 1, "no key": partitions},
        explanation=(
            "The partitioner maps a key to a partition by hashing it: a function of the key, "
            "so every event of one account lands in one partition. Events without a key have "
            "no hash; the producer spreads them (a batch at a time, with sticky partitioning), "
            f"so over the run they reach all {partitions} partitions -- and nothing orders "
            "them any more."
        ),
        hint="A key always hashes to the same partition; null keys are spread.",
    )


def hot_partition_limit(result: sim.Result) -> Exercise:
    """Lesson 05: the total rate above which the hottest partition falls behind.

    ``result`` is the lesson's run of ``hot_partition``; the learner gets the speed of the
    hottest partition's consumer.
    """
    capacity = _pick("05-hot-partition-limit")
    counts = partition_counts(result.history)
    share = float(counts.max() / counts.sum())
    return Exercise(
        key="05-hot-partition-limit",
        question=(
            f'Suppose the hottest partition\'s consumer (cell "skewed keys") processed '
            f"**{capacity} events/s**. Above what **total** event rate would that partition "
            "fall behind? Use the hottest partition's share printed there."
        ),
        expected=lambda: capacity / share,
        solution=capacity / round(share, 3),  # the share as printed, to 0.1 %
        explanation=(
            "The hottest partition receives share x total rate; it falls behind when that "
            f"exceeds its consumer's {capacity} events/s, i.e. above {capacity} / share -- far "
            f"below the {len(counts)} x {capacity} events/s the group could handle with an "
            "even load."
        ),
        rel_tol=0.05,
        hint="The hottest partition gets share x total rate.",
    )


def commit_positions(messages: int = 100, commit_every: int = 10) -> Exercise:
    """Lesson 06: duplicates after a commit-after crash, loss after a commit-before one.

    The check runs the real idempotency lab with this learner's crash point.
    """
    crash_after = _pick("06-commit-positions")
    since = crash_after % commit_every

    def counts() -> dict[str, int]:
        run = run_idempotency(messages=messages, crash_after=crash_after, commit_every=commit_every)
        return {
            "commit-after duplicated": run.report["group:commit-after"].duplicated,
            "commit-before lost": run.report["group:commit-before"].lost,
        }

    return Exercise(
        key="06-commit-positions",
        question=(
            f"A consumer commits after processing, in batches of {commit_every} (offsets "
            f"{commit_every}, {2 * commit_every}, ...) and crashes right after processing "
            f"event #{crash_after}. Its twin commits each batch **before** processing it. How "
            "many events does the first process twice, and how many does the second lose? "
            "The check runs the real lab with those numbers."
        ),
        expected=counts,
        solution={"commit-after duplicated": since, "commit-before lost": commit_every - since},
        explanation=(
            f"Commit-after last committed offset {crash_after - since}, so events "
            f"{crash_after - since + 1}-{crash_after} come again: {since}. Commit-before had "
            f"committed the whole batch up to {crash_after - since + commit_every} before "
            f"processing it and processed up to {crash_after}: the remaining "
            f"{commit_every - since} are skipped for good."
        ),
        hint="Where was the last commit when the crash came?",
    )

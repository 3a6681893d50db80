"""Idempotency and duplicates: what a consumer crash does under each commit policy.

``messages`` events are written to a one-partition topic. Three consumer groups read them,
each committing every ``commit_every`` messages, and each consumer is killed -- its client
closed without committing -- right after its side effect for message number ``crash_after``.
A new consumer in the same group then resumes from the group's last committed offset:

- ``group:commit-after`` (at least once) processes, then commits. The restart reprocesses
  everything after the last commit: ``duplicated == crash_after - last committed offset``.
- ``group:idempotent`` does the same, but performs a side effect only if ``SET NX`` of the
  event id in Redis (with a TTL of ``dedupe_ttl_s``) succeeds: the redelivered events are
  still delivered again (``redeliveries``) but cause no second side effect -- ``duplicated``
  is 0. (The dedupe key is written before the side effect; a crash between the two would
  lose that side effect. End-to-end exactly-once needs the dedupe write and the side effect
  in one transaction.)
- ``group:commit-before`` (at most once) commits a whole poll batch before processing it:
  the restart skips what was committed but never processed -- loss instead of duplicates.

The producer is either idempotent (``acks='all'``, ``enable_idempotence=True``: the broker
drops a retried batch it already has) or not (``acks=1``, ``enable_idempotence=False`` with
``retries``: a retry after a lost acknowledgement writes the batch twice). On one healthy
broker neither retries, so this lab shows the settings; the simulator shows the retry case.
"""

from __future__ import annotations

from kafka import TopicPartition

import sim.progress as progress
from labs.clients import WaitTimeout, commit_offsets, poll_until_assigned
from labs.consume import end_offsets, topic_partitions
from labs.experiments.idempotency import IDEMPOTENCY, workload
from labs.naming import Scratch, scratch
from labs.recording import Clock, ReaderLog, Sends
from labs.workload import draw, message_id, payload
from sim.analysis.result import Result
from sim.core.history import OK
from sim.models.partitioner import key_bytes

SOURCE = "redis+kafka"
PRODUCERS = {
    "idempotent": {
        "acks": "all",
        "enable_idempotence": True,
        "max_in_flight_requests_per_connection": 5,
    },
    "non-idempotent": {
        "acks": 1,
        "enable_idempotence": False,
        "retries": 5,
        "max_in_flight_requests_per_connection": 5,
    },
}
POLICIES = ("commit-after", "idempotent", "commit-before")


@progress.task("idempotency lab on the real brokers")
def run_idempotency(
    *,
    messages: int = 100,
    crash_after: int = 25,
    commit_every: int = 10,
    num_keys: int = 10,
    dedupe_ttl_s: int = 60,
    producer: str = "idempotent",
    seed: int = 0,
) -> Result:
    """Run the idempotency lab; see the module docstring."""
    IDEMPOTENCY.check(locals())  # ranges and defaults: labs/experiments/idempotency.py
    params = dict(
        messages=messages,
        crash_after=crash_after,
        commit_every=commit_every,
        num_keys=num_keys,
        dedupe_ttl_s=dedupe_ttl_s,
        producer=producer,
    )
    key_seq = draw(workload(**params), seed).keys

    with scratch("idem") as s:
        clock = Clock()
        topic = s.topic("events")
        tps = topic_partitions(topic, 1)
        prod = s.producer(**PRODUCERS[producer])
        sends = Sends()
        for i, k in enumerate(key_seq):
            sends.add_kafka(
                int(k), clock.now(), prod.send(topic, key=key_bytes(k), value=payload(i))
            )
        sends.settle(prod, timeout_s=10)
        probe = s.consumer()
        ends = end_offsets(probe, tps)
        probe.close()
        runs = {
            policy: crash_and_restart(
                s, topic, ends, clock, policy, crash_after, commit_every, dedupe_ttl_s
            )
            for policy in POLICIES
        }
        end = clock.now()

    offsets = sends.array("offset")
    # A group never reads again below its committed offset: what it skipped is lost.
    history = sends.history(
        [runs[p]["log"].history(available=offsets >= runs[p]["final_committed"]) for p in POLICIES],
        end_time=end,
    )
    metrics: dict = {"acked": int((sends.array("outcome") == OK).sum())}
    for p in POLICIES:
        run = runs[p]
        metrics[f"last_committed:group:{p}"] = run["last_committed"]
        metrics[f"deliveries:group:{p}"] = run["deliveries"]
        metrics[f"redeliveries:group:{p}"] = run["deliveries"] - len(set(run["delivered"]))
    metrics["expected_duplicates:group:commit-after"] = (
        crash_after - runs["commit-after"]["last_committed"]
    )
    metrics["expected_lost:group:commit-before"] = (
        runs["commit-before"]["last_committed"] - crash_after
    )
    metrics["dedupe_hits:group:idempotent"] = runs["idempotent"]["dedupe_hits"]
    pconf = PRODUCERS[producer]
    return Result.from_history(
        "idempotency",
        SOURCE,
        history,
        seed=seed,
        params=params,
        settings={
            "run_id": s.run_id,
            "producer.acks": pconf["acks"],
            "producer.enable_idempotence": pconf["enable_idempotence"],
            "producer.retries": pconf.get("retries", "default (until delivery_timeout_ms)"),
            "producer.max_in_flight_requests_per_connection": pconf[
                "max_in_flight_requests_per_connection"
            ],
            "consumer.enable_auto_commit": False,
            "kafka.partitions": 1,
            "commit_every": commit_every,
            "crash": f"client closed without commit after message #{crash_after}",
            "group:commit-after": "process, then commit (at least once)",
            "group:idempotent": f"commit after; side effect only if SET NX EX {dedupe_ttl_s}",
            "group:commit-before": "commit the poll batch, then process (at most once)",
        },
        metrics=metrics,
    )


def crash_and_restart(
    s: Scratch, topic, ends, clock, policy, crash_after, commit_every, ttl
) -> dict:
    """One consumer that crashes after ``crash_after`` side effects, then its replacement.

    ``policy`` is one of :data:`POLICIES`. Returns the reader log, the offset committed when
    the consumer crashed (``last_committed``), the final committed offset, deliveries.
    """
    group = s.group(policy)
    log = ReaderLog(f"group:{policy}")
    state = {"deliveries": 0, "delivered": [], "last_committed": 0, "dedupe_hits": 0}
    dedupe_prefix = s.redis_name(f"dedupe:{policy}")

    def side_effect(record) -> None:
        msg_id = message_id(record.value)
        state["deliveries"] += 1
        state["delivered"].append(msg_id)
        if policy == "idempotent":
            first = s.redis.set(f"{dedupe_prefix}:{msg_id}", 1, nx=True, ex=ttl)
            if not first:
                state["dedupe_hits"] += 1
                return
        log.processed(msg_id, clock.now())

    def commit(consumer, offset: int) -> None:
        commit_offsets(consumer, {TopicPartition(topic, 0): offset})
        state["last_committed"] = offset

    for life in ("first", "restarted"):
        consumer = s.consumer(topic, group_id=group, max_poll_records=commit_every)
        records = poll_until_assigned(consumer)
        crashed = False
        deadline = clock.now() + 10.0
        while not crashed:
            if clock.now() > deadline:
                raise WaitTimeout(f"timed out after 10 s: group {group} did not reach the end")
            if not records:
                if consumer.position(TopicPartition(topic, 0)) >= ends[TopicPartition(topic, 0)]:
                    break
                records = [r for b in consumer.poll(timeout_ms=100).values() for r in b]
                continue
            batch, records = records[:commit_every], records[commit_every:]
            if policy == "commit-before":
                commit(consumer, batch[-1].offset + 1)
            for record in batch:
                side_effect(record)
                if life == "first" and state["deliveries"] == crash_after:
                    crashed = True  # killed here: nothing after this line runs
                    break
            if not crashed and policy != "commit-before":
                commit(consumer, batch[-1].offset + 1)
        consumer.close(autocommit=False)
        if not crashed and life == "first":
            raise RuntimeError(f"consumer of {policy} never reached message #{crash_after}")
        if life == "first":
            state["last_committed_at_crash"] = state["last_committed"]
    state["log"] = log
    state["final_committed"] = state["last_committed"]
    state["last_committed"] = state.pop("last_committed_at_crash")
    return state

"""Poison messages: retries with backoff, a dead-letter topic, and reprocessing from it.

``messages`` events go to a topic; a fraction ``poison_fraction`` of them (chosen with the
seed) can never be processed by the current code -- a malformed field, say -- and a
fraction ``transient_fraction`` fail on their first attempt only, like a timeout to a
database that answers on the retry.

``group:main`` processes every event with up to ``max_retries`` retries, waiting
``backoff_ms * 2**(attempt - 1)`` before retry ``attempt``. An event that still fails goes to
a dead-letter topic (DLQ), with the error, the attempt count and its source offset in
headers; only once the DLQ write is acknowledged is the source offset committed. So one
poison message costs a few retries, never blocks the partition for good and is never lost.

After a fix is deployed, ``group:dlq-reprocess`` reads the DLQ with the fixed handler and
processes every dead-lettered event. ``pipeline`` is the union of the two: every
acknowledged event processed exactly once, end to end -- but not in order: a dead-lettered
event is processed after later events of its key (the ``reordered`` column), which is the
price of not blocking the partition; keyed state needs the DLQ drained before later events
of the same key, or a version check.
"""

from __future__ import annotations

import time

import numpy as np
from kafka import TopicPartition

import sim.progress as progress
from labs.clients import commit_offsets, poll_until_assigned
from labs.consume import drain, end_offsets, topic_partitions
from labs.experiments.poison import POISON, workload
from labs.naming import scratch
from labs.recording import Clock, ReaderLog, Sends
from labs.workload import draw, lab_rngs, message_id, payload
from sim.analysis.result import Result
from sim.core.history import OK
from sim.models.partitioner import key_bytes

SOURCE = "kafka"


class PoisonError(ValueError):
    """The handler cannot process this event."""


class TransientError(RuntimeError):
    """The handler failed this time; a retry may succeed."""


@progress.task("poison lab on the real brokers")
def run_poison(
    *,
    messages: int = 100,
    poison_fraction: float = 0.05,
    transient_fraction: float = 0.1,
    max_retries: int = 3,
    backoff_ms: float = 10.0,
    num_keys: int = 10,
    seed: int = 0,
) -> Result:
    """Run the poison-message lab; see the module docstring."""
    POISON.check(locals())  # ranges and defaults: labs/experiments/poison.py
    params = dict(
        messages=messages,
        poison_fraction=poison_fraction,
        transient_fraction=transient_fraction,
        max_retries=max_retries,
        backoff_ms=backoff_ms,
        num_keys=num_keys,
    )
    key_seq = draw(workload(**params), seed).keys
    (pick_rng,) = lab_rngs(seed, 1)
    kind = np.zeros(messages, np.int8)  # 0 good, 1 transient, 2 poison
    order = pick_rng.permutation(messages)
    n_poison = int(round(poison_fraction * messages))
    n_transient = int(round(transient_fraction * messages))
    kind[order[:n_poison]] = 2
    kind[order[n_poison : n_poison + n_transient]] = 1
    kind_names = {0: b"good", 1: b"transient", 2: b"poison"}

    with scratch("poison", redis_needed=False) as s:
        clock = Clock()
        topic = s.topic("events")
        dlq = s.topic("events-dlq")
        producer = s.producer(acks="all", enable_idempotence=True)
        sends = Sends()
        for i, k in enumerate(key_seq):
            future = producer.send(
                topic, key=key_bytes(k), value=payload(i), headers=[("kind", kind_names[kind[i]])]
            )
            sends.add_kafka(int(k), clock.now(), future)
        sends.settle(producer, timeout_s=10)
        probe = s.consumer()
        ends = end_offsets(probe, topic_partitions(topic, 1))

        main, pipeline = ReaderLog("group:main"), ReaderLog("pipeline")
        stats = {
            "attempts": 0,
            "retries": 0,
            "dead_lettered": 0,
            "backoff_s": 0.0,
            "recovered_by_retry": 0,
        }
        failures_seen: dict[int, int] = {}

        def handle(record) -> None:
            """The current code: poison always fails, transient fails on its first attempt."""
            msg_id = message_id(record.value)
            label = dict(record.headers).get("kind")
            if label == b"poison":
                raise PoisonError(f"cannot parse event {msg_id}")
            if label == b"transient" and failures_seen.get(msg_id, 0) == 0:
                failures_seen[msg_id] = 1
                raise TransientError(f"timeout while handling event {msg_id}")

        consumer = s.consumer(topic, group_id=s.group("main"))
        records = poll_until_assigned(consumer)
        deadline = time.monotonic() + 15.0
        tp = TopicPartition(topic, 0)
        while consumer.position(tp, timeout_ms=5000) < ends[tp] or records:
            if time.monotonic() > deadline:
                raise TimeoutError("timed out after 15 s waiting for group:main to finish")
            for record in records:
                error = None
                for attempt in range(max_retries + 1):
                    if attempt:
                        pause = backoff_ms / 1000 * 2 ** (attempt - 1)
                        stats["retries"] += 1
                        stats["backoff_s"] += pause
                        time.sleep(pause)
                    stats["attempts"] += 1
                    try:
                        handle(record)
                    except (PoisonError, TransientError) as exc:
                        error = exc
                        continue
                    error = None
                    if attempt:
                        stats["recovered_by_retry"] += 1
                    msg_id = message_id(record.value)
                    main.processed(msg_id, clock.now())
                    pipeline.processed(msg_id, clock.now())
                    break
                if error is not None:
                    producer.send(
                        dlq,
                        key=record.key,
                        value=record.value,
                        headers=[
                            ("error", f"{type(error).__name__}: {error}".encode()),
                            ("attempts", str(max_retries + 1).encode()),
                            (
                                "source",
                                f"{record.topic}:{record.partition}:{record.offset}".encode(),
                            ),
                        ],
                    ).get(timeout=10)  # dead-lettered for sure before the offset is committed
                    stats["dead_lettered"] += 1
                commit_offsets(consumer, {tp: record.offset + 1})
            records = [r for b in consumer.poll(timeout_ms=100).values() for r in b]
        consumer.close(autocommit=False)
        main_done = clock.now()

        dlq_tps = topic_partitions(dlq, 1)
        dlq_ends = end_offsets(probe, dlq_tps)
        probe.close()
        reprocess = ReaderLog("group:dlq-reprocess")
        fixed = s.consumer(dlq, group_id=s.group("dlq-reprocess"))
        first = poll_until_assigned(fixed)
        for record in drain(fixed, reprocess, clock, dlq_ends, records=first):
            pipeline.processed(message_id(record.value), clock.now())
        fixed.close(autocommit=False)
        end = clock.now()

    n = len(sends)
    everything = np.ones(n, bool)
    history = sends.history(
        [
            main.history(expected=kind != 2, available=everything),
            reprocess.history(expected=kind == 2, available=everything),
            pipeline.history(available=everything),
        ],
        end_time=end,
    )
    return Result.from_history(
        "poison",
        SOURCE,
        history,
        seed=seed,
        params=params,
        settings={
            "run_id": s.run_id,
            "retries": f"up to {max_retries}, backoff {backoff_ms:g} ms x 2^(attempt-1)",
            "dead-letter topic": "events-dlq (headers: error, attempts, source)",
            "commit": "source offset after success or after the DLQ write is acknowledged",
            "kafka.acks": "all",
            "kafka.enable_idempotence": True,
        },
        metrics={
            "acked": int((sends.array("outcome") == OK).sum()),
            "poison": int((kind == 2).sum()),
            "transient": int((kind == 1).sum()),
            "dlq": int(dlq_ends[dlq_tps[0]]),
            "attempts": stats["attempts"],
            "retries": stats["retries"],
            "retry_rate": stats["retries"] / max(1, stats["attempts"]),
            "recovered_by_retry": stats["recovered_by_retry"],
            "backoff_s": stats["backoff_s"],
            "main_s:group:main": main_done,
        },
    )

"""Reading a Kafka topic up to a known end: as a consumer-group member or by ``assign()``.

Most labs know exactly how far a reader has to go -- the end offsets after the producer
flushed -- so a read is "poll until every partition's position reaches its end offset",
bounded by a deadline. Each record processed is logged (message id from the payload, run
time) in the reader's :class:`~labs.recording.ReaderLog`.
"""

from __future__ import annotations

import time

from kafka import KafkaConsumer, TopicPartition

from labs.clients import WaitTimeout, commit_offsets, poll_until_assigned
from labs.recording import Clock, ReaderLog
from labs.workload import message_id


def topic_partitions(topic: str, partitions: int) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for p in range(partitions)]


def end_offsets(consumer: KafkaConsumer, tps: list[TopicPartition]) -> dict:
    return consumer.end_offsets(tps, timeout_ms=5000)


def drain(
    consumer: KafkaConsumer,
    log: ReaderLog,
    clock: Clock,
    ends: dict,
    *,
    timeout_s: float = 10.0,
    commit: bool = True,
    records: list | None = None,
) -> list:
    """Process records until each partition's position reaches ``ends``; return the records.

    With ``commit`` the processed offsets are committed after every poll batch (at least once).
    """
    seen: list = []
    deadline = time.monotonic() + timeout_s
    batch = list(records or [])
    while True:
        done: dict = {}
        for record in batch:
            log.processed(message_id(record.value), clock.now())
            done[TopicPartition(record.topic, record.partition)] = record.offset + 1
        seen.extend(batch)
        if commit:
            commit_offsets(consumer, done)
        if all(consumer.position(tp, timeout_ms=5000) >= end for tp, end in ends.items()):
            return seen
        if time.monotonic() >= deadline:
            raise WaitTimeout(
                f"timed out after {timeout_s:.1f} s waiting for reader {log.name!r} to reach "
                f"end offsets {_fmt(ends)}"
            )
        batch = [r for recs in consumer.poll(timeout_ms=100).values() for r in recs]


def read_as_group(
    make_consumer, topic: str, log: ReaderLog, clock: Clock, ends: dict, **kwargs
) -> list:
    """Join a group with a new consumer, process up to ``ends``, commit, leave the group."""
    consumer = make_consumer(topic)
    try:
        first = poll_until_assigned(consumer)
        return drain(consumer, log, clock, ends, records=first, **kwargs)
    finally:
        consumer.close(autocommit=False)


def _fmt(ends: dict) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]={off}" for tp, off in ends.items())

"""Replay: offsets, consumer groups, seek, and the limit retention puts on replay.

A producer writes ``messages`` keyed events to a topic with ``partitions`` partitions, in
two halves a moment apart. Then several readers read the same log independently:

- ``group:early`` -- a consumer group that reads everything and commits;
- ``group:late`` -- a second group created afterwards with ``auto_offset_reset='earliest'``:
  it replays the whole history, untouched by the first group's commits;
- ``group:late-latest`` -- a late group with ``auto_offset_reset='latest'``: it starts at the
  end and sees none of the history (shown as *unseen*: the log still has it);
- ``seek:offset`` -- ``assign()`` + ``seek(tp, seek_offset)`` on every partition;
- ``seek:timestamp`` -- ``offsets_for_times`` for the first timestamp of the second half, then
  ``seek``: it reads exactly the second half.

Then retention: on a second topic, ``group:offline`` reads a first batch of
``retained_messages``, commits and goes offline; the topic's ``retention.ms`` is then set
to ``retention_ms`` (not before: joining a group on a loaded machine can take longer than
that, and the first batch must not expire unread); ``offline_messages``
more are written; the consumer stays away longer than the retention period while the broker
deletes the expired records; when it returns its committed offset is below the log start,
the consumer (``auto_offset_reset='earliest'``; with ``latest`` it would skip to the end)
resets to the earliest offset still there, and the messages retention deleted are *lost* --
even on Kafka. It then reads new events live.

Time-based retention is enforced by the broker's log manager (its retention task runs every
``log.retention.check.interval.ms``, 5 min by default; the course's stack sets 1 s), not by
the log cleaner, which compacts. It deletes whole segments whose newest record is older
than ``retention.ms``, so the topic gets ``segment.ms`` = a quarter of the retention (the
default, 7 days, would keep every record in one open segment). When the broker checks too
rarely for a lab, the lab deletes the expired segment's records itself with
``delete_records`` -- the same effect the retention task would have -- and says so in the
settings.
"""

from __future__ import annotations

import time

import numpy as np
from kafka import TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

import sim.progress as progress
from labs.clients import poll_until_assigned, wait_until
from labs.consume import drain, end_offsets, read_as_group, topic_partitions
from labs.experiments.replay import REPLAY, workload
from labs.naming import Scratch, scratch
from labs.recording import Clock, ReaderLog, Sends
from labs.retention import broker_retention_check_ms
from labs.workload import draw, payload
from sim.analysis.result import Result
from sim.core.history import OK
from sim.models.partitioner import key_bytes

SOURCE = "kafka"
#: A broker retention check interval (ms) at most this short lets the lab rely on the broker.
BROKER_RETENTION_CHECK_MAX_MS = 2000
#: ``retention.ms`` of the retained topic until the offline group has read its first batch.
RETENTION_WHILE_READING_MS = 3_600_000


@progress.task("replay lab on the real brokers")
def run_replay(
    *,
    messages: int = 300,
    partitions: int = 3,
    num_keys: int = 30,
    seek_offset: int = 40,
    retained_messages: int = 50,
    offline_messages: int = 100,
    retention_ms: int = 1000,
    seed: int = 0,
) -> Result:
    """Run the replay lab; see the module docstring."""
    REPLAY.check(locals())  # ranges and defaults: labs/experiments/replay.py
    params = dict(
        messages=messages,
        partitions=partitions,
        num_keys=num_keys,
        seek_offset=seek_offset,
        retained_messages=retained_messages,
        offline_messages=offline_messages,
        retention_ms=retention_ms,
    )
    key_seq = draw(workload(**params), seed).keys

    with scratch("replay", redis_needed=False) as s:
        clock = Clock()
        sends = Sends()
        producer = s.producer(acks="all", enable_idempotence=True)
        topic = s.topic("events", partitions=partitions)
        tps = topic_partitions(topic, partitions)
        half = messages // 2
        for i, k in enumerate(key_seq):
            if i == half:
                producer.flush(timeout=5)
                time.sleep(0.02)  # a clean millisecond boundary between the halves
            sends.add_kafka(
                int(k), clock.now(), producer.send(topic, key=key_bytes(k), value=payload(i))
            )
        timestamps = _timestamps(sends, producer)
        split_ts = int(timestamps[half])
        main_ids = np.arange(messages)

        probe = s.consumer()  # no group: end offsets, beginning offsets, offsets_for_times
        ends = end_offsets(probe, tps)
        logs = {
            name: ReaderLog(name)
            for name in ("group:early", "group:late", "group:late-latest", "seek:offset")
        }
        for name in ("group:early", "group:late"):
            read_as_group(_group_consumer(s, name, "earliest"), topic, logs[name], clock, ends)
        read_as_group(
            _group_consumer(s, "group:late-latest", "latest"),
            topic,
            logs["group:late-latest"],
            clock,
            ends,
        )

        reader = s.consumer()
        reader.assign(tps)
        for tp in tps:
            reader.seek(tp, min(seek_offset, ends[tp]))
        drain(reader, logs["seek:offset"], clock, ends, commit=False)

        logs["seek:timestamp"] = ReaderLog("seek:timestamp")
        found = reader.offsets_for_times({tp: split_ts for tp in tps}, timeout_ms=5000)
        for tp in tps:
            reader.seek(tp, ends[tp] if found[tp] is None else found[tp].offset)
        drain(reader, logs["seek:timestamp"], clock, ends, commit=False)
        reader.close()

        retention = _retention(
            s, sends, producer, probe, clock, retained_messages, offline_messages, retention_ms
        )
        probe.close()
        end = clock.now()

    n = len(sends)
    outcome = sends.array("outcome")
    offsets = sends.array("offset")
    on_main = np.zeros(n, bool)
    on_main[main_ids] = True
    ts = np.full(n, -1, np.int64)
    ts[:messages] = timestamps
    readers = [
        logs["group:early"].history(expected=on_main, available=on_main),
        logs["group:late"].history(expected=on_main, available=on_main),
        logs["group:late-latest"].history(expected=on_main, available=on_main),
        logs["seek:offset"].history(expected=on_main & (offsets >= seek_offset), available=on_main),
        logs["seek:timestamp"].history(expected=on_main & (ts >= split_ts), available=on_main),
        retention["log"].history(expected=~on_main, available=retention["available"]),
    ]
    history = sends.history(readers, end_time=end)
    return Result.from_history(
        "replay",
        SOURCE,
        history,
        seed=seed,
        params=params,
        settings={
            "run_id": s.run_id,
            "kafka.acks": "all",
            "kafka.enable_idempotence": True,
            "kafka.partitions": partitions,
            "group:early / group:late auto_offset_reset": "earliest",
            "group:late-latest auto_offset_reset": "latest",
            "seek:timestamp offsets_for_times": split_ts,
            "retained topic retention.ms": retention_ms,
            "retained topic segment.ms": retention["segment_ms"],
            "retention enforced by": retention["enforced_by"],
        },
        metrics={
            "acked": int((outcome == OK).sum()),
            "second_half_messages": messages - half,
            "deleted_by_retention": retention["deleted"],
            "log_start_offset:retained": retention["log_start"],
            "offline_s:group:offline": retention["offline_s"],
        },
    )


def _group_consumer(s: Scratch, reader: str, reset: str):
    group = s.group(reader.split(":", 1)[1])
    return lambda topic: s.consumer(topic, group_id=group, auto_offset_reset=reset)


def _timestamps(sends: Sends, producer) -> np.ndarray:
    """Settle the sends and return each message's broker-side (CreateTime) timestamp, ms."""
    futures = dict(sends._futures)
    sends.settle(producer, timeout_s=10)
    ts = np.full(len(futures), -1, np.int64)
    for i, f in futures.items():
        if f.succeeded():
            ts[i] = f.value.timestamp
    return ts


def _set_retention(s: Scratch, topic: str, retention_ms: int) -> None:
    """Set the topic's ``retention.ms`` (an incremental config change: nothing else moves)."""
    res = ConfigResource(
        ConfigResourceType.TOPIC, topic, configs={"retention.ms": str(retention_ms)}
    )
    answer = s.admin.alter_configs([res])
    outcome = answer.get("topic", {}).get(topic)
    if outcome != "OK":
        raise RuntimeError(f"setting retention.ms={retention_ms} on {topic} failed: {outcome}")


def _retention(s: Scratch, sends, producer, probe, clock, retained, offline, retention_ms) -> dict:
    """A consumer offline for longer than the retention period."""
    check_ms = broker_retention_check_ms(s)
    by_broker = check_ms <= BROKER_RETENTION_CHECK_MAX_MS
    segment_ms = max(100, retention_ms // 4)
    # Retention starts once the group has read its first batch: on a loaded machine joining
    # the group can take longer than ``retention_ms``, and the first batch must not expire
    # before the group was up to date.
    topic = s.topic(
        "retained",
        configs={
            "retention.ms": RETENTION_WHILE_READING_MS,
            "segment.ms": segment_ms,
            "file.delete.delay.ms": 0,
        },
    )
    tp = TopicPartition(topic, 0)
    log = ReaderLog("group:offline")
    group = s.group("offline")

    def send_batch(count: int) -> list[int]:
        ids = []
        for _ in range(count):
            i = len(sends)
            sends.add_kafka(-1, clock.now(), producer.send(topic, value=payload(i)))
            ids.append(i)
        sends.settle(producer, timeout_s=10)
        return ids

    first = send_batch(retained)
    ends = end_offsets(probe, [tp])
    read_as_group(lambda t: s.consumer(t, group_id=group), topic, log, clock, ends)
    _set_retention(s, topic, retention_ms)
    went_offline = clock.now()
    offline_ids = send_batch(offline)
    end_of_offline = sends.offset[offline_ids[-1]] + 1
    # Stay away longer than retention: every segment (the active one too, which the broker
    # rolls first) holds only expired records, and retention deletes them all.
    time.sleep(retention_ms / 1000 + 0.2)
    if by_broker:
        enforced_by = f"broker retention task (log.retention.check.interval.ms={check_ms})"
        wait_until(
            lambda: probe.beginning_offsets([tp], timeout_ms=5000)[tp] >= end_of_offline,
            timeout_s=10,
            what=f"the broker's retention to delete the expired records of {topic}",
            interval_s=0.1,
        )
    else:
        enforced_by = (
            f"lab: delete_records of the expired records (the broker checks retention only "
            f"every {check_ms} ms)"
        )
        s.admin.delete_records({tp: end_of_offline}, timeout_ms=5000)
    log_start = probe.beginning_offsets([tp], timeout_ms=5000)[tp]
    # The consumer comes back: its committed offset is below the log start, so it resets
    # to the earliest offset still there; new events then arrive and are read live.
    consumer = s.consumer(topic, group_id=group)
    try:
        poll_until_assigned(consumer)
        tail = send_batch(max(1, retained // 5))
        ends = end_offsets(probe, [tp])
        drain(consumer, log, clock, ends)
    finally:
        consumer.close(autocommit=False)
    ids = np.array(first + offline_ids + tail)
    available = np.zeros(len(sends), bool)
    available[ids[sends.array("offset")[ids] >= log_start]] = True
    return {
        "log": log,
        "available": available,
        "deleted": int(log_start),
        "log_start": int(log_start),
        "enforced_by": enforced_by,
        "segment_ms": segment_ms,
        "offline_s": clock.now() - went_offline,
    }

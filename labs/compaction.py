"""Log compaction on a real broker: the latest value per key survives, tombstones delete keys,
and a late reader bootstraps its state from what is left.

A one-partition topic with ``cleanup.policy=compact``, ``segment.ms`` = ``segment_ms``,
``min.cleanable.dirty.ratio=0.01``, ``min.compaction.lag.ms`` = ``min_compaction_lag_ms``
and ``delete.retention.ms`` = ``delete_retention_ms`` receives ``updates_per_key`` rounds of
one update per key (``keys`` keys, in an order drawn from the seed); in the middle round
``tombstoned_keys`` keys get a tombstone (a null value) and no update after it. The last
update is sent ``segment_ms`` after the others, so the broker rolls the segment on it: the
cleaner never touches the *active* segment (the one being written), and everything before
that last update becomes cleanable.

The lab then waits (each wait bounded by ``timeout_s`` in all) for what the broker does:

1. **compaction**: reading the topic from the beginning, every record below the active
   segment has a key of its own -- the cleaner kept the latest record per key (tombstones
   included: a tombstone stays ``delete.retention.ms`` after the cleaning that kept it);
2. **tombstones removed**: ``delete_retention_ms`` after the first cleaning the lab writes one
   more update (it rolls the segment again, so the log is dirty enough for the cleaner to run
   once more), and waits until no tombstone is left.

The broker's cleaner thread sleeps ``log.cleaner.backoff.ms`` when no log is dirty enough (a
broker setting, 15 s by default; the course's stack sets 1 s, and the lab reports the value
it read from the broker). Then a late reader (``assign`` + ``seek_to_beginning``, as a new
service bootstrapping a table) reads the topic to its end and builds its state: key ->
latest value, a tombstone deleting its key.

Reader ``bootstrap:late`` is expected to process the latest record of each key that is not
deleted (message ids are the sends, tombstones included); metrics: ``records_written``,
``records_left`` (what the late reader read), ``keys``, ``tombstoned_keys``,
``tombstones_left``, ``superseded_left`` (records read whose key has a later record: only in
the active segment's shadow), ``state_matches`` (1.0 if the reader's state is exactly the
expected latest state), ``compacted_after_s`` (from the newest record of the cleanable part
to the first read that found it compacted) and ``tombstones_gone_after_s``.
"""

from __future__ import annotations

import time

import numpy as np
from kafka import TopicPartition

import sim.progress as progress
from labs.clients import WaitTimeout, read_all
from labs.experiments.compaction import COMPACTION
from labs.naming import scratch
from labs.recording import Clock, ReaderLog, Sends
from labs.workload import lab_rngs, payload
from sim.analysis.result import Result
from sim.models.compaction import latest_state, write_plan
from sim.models.partitioner import key_bytes

SOURCE = "kafka"
#: How often the lab reads the topic while it waits for the cleaner (s).
POLL_S = 0.25
#: Offsets of records still in the log, read from the beginning; one read's timeout (s).
READ_TIMEOUT_S = 10.0


def lab_plan(keys: int, updates_per_key: int, tombstoned_keys: int, seed: int) -> list:
    """The lab's writes for ``seed`` (:func:`sim.models.compaction.write_plan`)."""
    return write_plan(keys, updates_per_key, tombstoned_keys, lab_rngs(seed, 1)[0])


@progress.task("compaction lab on the real brokers")
def run_compaction(
    *,
    keys: int = 20,
    updates_per_key: int = 20,
    tombstoned_keys: int = 4,
    segment_ms: int = 200,
    min_compaction_lag_ms: int = 0,
    delete_retention_ms: int = 500,
    timeout_s: float = 40.0,
    seed: int = 0,
) -> Result:
    """Run the compaction lab; see the module docstring."""
    COMPACTION.check(locals())  # ranges and defaults: labs/experiments/compaction.py
    params = dict(
        keys=keys,
        updates_per_key=updates_per_key,
        tombstoned_keys=tombstoned_keys,
        segment_ms=segment_ms,
        min_compaction_lag_ms=min_compaction_lag_ms,
        delete_retention_ms=delete_retention_ms,
        timeout_s=timeout_s,
    )
    plan = lab_plan(keys, updates_per_key, tombstoned_keys, seed)
    clock, sends, log = Clock(), Sends(), ReaderLog("bootstrap:late")
    deadline = time.monotonic() + timeout_s
    with scratch("compaction", redis_needed=False) as s:
        backoff_ms = int(s.broker_setting("log.cleaner.backoff.ms"))
        topic = s.topic(
            "table",
            configs={
                "cleanup.policy": "compact",
                "segment.ms": segment_ms,
                "min.cleanable.dirty.ratio": 0.01,
                "min.compaction.lag.ms": min_compaction_lag_ms,
                "delete.retention.ms": delete_retention_ms,
            },
        )
        tp = TopicPartition(topic, 0)
        producer = s.producer(linger_ms=5)
        probe = s.consumer()
        probe.assign([tp])

        def send(key: int, tombstone: bool) -> None:
            value = None if tombstone else payload(len(sends), key=key)
            sends.add_kafka(key, clock.now(), producer.send(topic, key=key_bytes(key), value=value))

        with progress.task("writing", total=len(plan), unit="msg") as sent:
            for key, tombstone in plan[:-1]:
                send(key, tombstone)
                sent.advance()
            sends.settle(producer)
            newest_cleanable = sends.times[-1]  # (kafka-python stamps CreateTime in send())
            time.sleep(segment_ms / 1000 + 0.05)  # the last update rolls the segment
            send(*plan[-1])
            sends.settle(producer)
            sent.advance()
        sends.require_acknowledged(topic)

        def compacted(records: list) -> bool:  # one record per key below the active segment
            below = [r.key for r in records[:-1]]
            return len(below) == len(set(below))

        _wait_for(probe, tp, compacted, deadline, f"the cleaner to compact {topic}", backoff_ms)
        compacted_at = clock.now()
        time.sleep(delete_retention_ms / 1000 + segment_ms / 1000 + 0.05)
        extra_key = plan[-1][0]  # one more update of the same key: rolls the segment again
        plan.append((extra_key, False))
        send(extra_key, False)
        sends.settle(producer)
        sends.require_acknowledged(topic)

        def no_tombstones(records: list) -> bool:
            return compacted(records) and all(r.value is not None for r in records)

        what = f"the cleaner to remove the tombstones of {topic} (delete.retention.ms passed)"
        _wait_for(probe, tp, no_tombstones, deadline, what, backoff_ms)
        gone_at = clock.now()
        probe.close()

        # The late reader: a new service bootstraps its table from the topic.
        reader = s.consumer()
        reader.assign([tp])
        reader.seek_to_beginning(tp)
        end = reader.end_offsets([tp], timeout_ms=5000)[tp]
        records = read_all(reader, {tp: end}, timeout_s=READ_TIMEOUT_S)
        reader.close(autocommit=False)
        finished = clock.now()
    by_offset = {int(o): i for i, o in enumerate(sends.offset)}
    state: dict[int, int] = {}
    for r in records:
        msg_id = by_offset[r.offset]
        log.processed(msg_id, finished)
        key = sends.keys[msg_id]
        if r.value is None:
            state.pop(key, None)
        else:
            state[key] = msg_id
    expected_state = latest_state(np.array([k for k, _ in plan]), np.array([d for _, d in plan]))
    expected = np.zeros(len(sends), bool)
    expected[list(expected_state.values())] = True
    history = sends.history([log.history(expected=expected)], end_time=finished)
    read_keys = [r.key for r in records]
    superseded = len(read_keys) - len(set(read_keys))
    return Result.from_history(
        "compaction",
        SOURCE,
        history,
        seed=seed,
        params=params,
        settings={
            "run_id": s.run_id,
            "cleanup.policy": "compact",
            "segment.ms": segment_ms,
            "min.cleanable.dirty.ratio": 0.01,
            "min.compaction.lag.ms": min_compaction_lag_ms,
            "delete.retention.ms": delete_retention_ms,
            "log.cleaner.backoff.ms (broker)": backoff_ms,
        },
        metrics={
            "records_written": len(sends),
            "records_left": len(records),
            "keys": keys,
            "tombstoned_keys": tombstoned_keys,
            "live_keys": len(expected_state),
            "keys_in_state": len(state),
            "tombstones_left": sum(r.value is None for r in records),
            "superseded_left": superseded,
            "state_matches": float(state == expected_state),
            "compacted_after_s": compacted_at - newest_cleanable,
            "tombstones_gone_after_s": gone_at - compacted_at,
        },
    )


def _wait_for(probe, tp, condition, deadline: float, what: str, backoff_ms: int) -> list:
    """Read ``tp`` from the beginning every :data:`POLL_S` until ``condition(records)``."""
    with progress.step(f"waiting for {what}"):
        while True:
            end = probe.end_offsets([tp], timeout_ms=5000)[tp]
            probe.seek_to_beginning(tp)
            records = read_all(probe, {tp: end}, timeout_s=READ_TIMEOUT_S)
            if condition(records):
                return records
            if time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"timed out waiting for {what}: the broker's log.cleaner.backoff.ms is "
                    f"{backoff_ms} ms (the course's stack sets 1000; restart it with "
                    "python -m labs.stack down && python -m labs.stack up), or give the lab a "
                    "longer timeout_s"
                )
            time.sleep(POLL_S)

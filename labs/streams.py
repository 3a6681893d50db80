"""Redis Streams: consumer groups with a pending entries list, the middle ground.

``messages`` events are appended with ``XADD`` to a stream (optionally capped with
``MAXLEN ~ maxlen``) and, as a twin, to a one-partition Kafka topic.

On Redis, one consumer group ``stream-group:0`` has two consumers. ``c1`` reads batches of
``batch`` entries with ``XREADGROUP ... >`` and ``XACK``s each entry right after processing
it. It crashes -- its connection closed -- after processing entry number ``crash_after`` but
before acknowledging it: that entry and the rest of its batch stay in the group's pending
entries list (PEL), owned by the dead consumer. ``c2`` reads the new entries, and once the
pending ones have been idle for ``min_idle_ms`` it takes them over with ``XAUTOCLAIM``
(which increments their delivery count), processes and acknowledges them. Nothing is lost;
the one entry processed but not acknowledged is processed twice.

On Kafka, ``group:0`` commits an *offset* every ``batch`` messages and crashes at the same
point: the restarted consumer re-reads everything after the last committed offset --
``crash_after - last committed`` duplicates. Per-entry acknowledgement (Streams) vs one
position per partition (Kafka): what a crash costs differs.
"""

from __future__ import annotations

import numpy as np
import redis

import sim.progress as progress
from labs.clients import redis_client, wait_until
from labs.consume import end_offsets, topic_partitions
from labs.experiments.streams import STREAMS, workload
from labs.idempotency import crash_and_restart
from labs.naming import scratch
from labs.recording import Clock, ReaderLog, Sends
from labs.workload import draw, payload
from sim.analysis.result import Result
from sim.core.history import OK
from sim.models.partitioner import key_bytes

SOURCE = "redis+kafka"
GROUP = "group-0"


@progress.task("streams lab on the real brokers")
def run_streams(
    *,
    messages: int = 100,
    batch: int = 10,
    crash_after: int = 25,
    min_idle_ms: int = 200,
    maxlen: int = 0,
    num_keys: int = 10,
    seed: int = 0,
) -> Result:
    """Run the Redis Streams lab; see the module docstring."""
    STREAMS.check(locals())  # ranges and defaults: labs/experiments/streams.py
    params = dict(
        messages=messages,
        batch=batch,
        crash_after=crash_after,
        min_idle_ms=min_idle_ms,
        maxlen=maxlen,
        num_keys=num_keys,
    )
    key_seq = draw(workload(**params), seed).keys

    with scratch("streams") as s:
        clock = Clock()
        stream = s.redis_name("events")
        topic = s.topic("events")
        producer = s.producer(acks="all", enable_idempotence=True)
        r = s.redis
        r.xgroup_create(stream, GROUP, id="0", mkstream=True)
        sends = Sends()
        for i, k in enumerate(key_seq):
            r.xadd(
                stream,
                {"id": i, "key": int(k)},
                maxlen=maxlen or None,
                approximate=True,
            )
            sends.add_kafka(
                int(k), clock.now(), producer.send(topic, key=key_bytes(k), value=payload(i))
            )
        sends.settle(producer, timeout_s=10)

        log = ReaderLog("stream-group:0")
        c1 = _Consumer(stream, "c1", log, clock)
        crashed_at = c1.read_until_crash(batch, crash_after)
        pending = r.xpending(stream, GROUP)
        pending_after_crash = int(pending["pending"])
        info = {g["name"]: g for g in r.xinfo_groups(stream)}[GROUP.encode()]
        lag_after_crash = info.get("lag")

        c2 = _Consumer(stream, "c2", log, clock)
        c2.read_new(batch)
        wait_until(
            lambda: _idle_enough(r, stream, min_idle_ms),
            timeout_s=5 + min_idle_ms / 1000,
            what=f"the pending entries of {stream} to be idle for {min_idle_ms} ms",
        )
        claimed, delivery_counts = c2.autoclaim(min_idle_ms, batch)
        final_pending = int(r.xpending(stream, GROUP)["pending"])
        stream_len = r.xlen(stream)
        c1.close()
        c2.close()

        probe = s.consumer()
        ends = end_offsets(probe, topic_partitions(topic, 1))
        probe.close()
        kafka = crash_and_restart(s, topic, ends, clock, "commit-after", crash_after, batch, 60)
        kafka["log"].name = "group:0"
        end = clock.now()

    n = len(sends)
    everything = np.ones(n, bool)
    history = sends.history(
        [log.history(available=everything), kafka["log"].history(available=everything)],
        end_time=end,
    )
    return Result.from_history(
        "streams",
        SOURCE,
        history,
        seed=seed,
        params=params,
        settings={
            "run_id": s.run_id,
            "stream": "XADD" + (f" MAXLEN ~ {maxlen}" if maxlen else " (no trimming)"),
            "stream-group:0": f"XREADGROUP COUNT {batch}; XACK each entry after processing",
            "recovery": f"XAUTOCLAIM min-idle-time {min_idle_ms} ms by consumer c2",
            "group:0 (Kafka twin)": f"commit the offset every {batch} messages, after processing",
            "crash": f"after processing message #{crash_after}, before its XACK / commit",
        },
        metrics={
            "acked": int((sends.array("outcome") == OK).sum()),
            "crashed_at": crashed_at,
            "pending_after_crash": pending_after_crash,
            "lag_after_crash:stream-group:0": float(lag_after_crash)
            if lag_after_crash is not None
            else float("nan"),
            "claimed": claimed,
            "max_delivery_count": max(delivery_counts) if delivery_counts else 0,
            "pending_at_end": final_pending,
            "stream_length": int(stream_len),
            "last_committed:group:0": kafka["last_committed"],
            "expected_duplicates:group:0": crash_after - kafka["last_committed"],
        },
    )


def _idle_enough(r: redis.Redis, stream: str, min_idle_ms: int) -> bool:
    entries = r.xpending_range(stream, GROUP, min="-", max="+", count=1000)
    return bool(entries) and all(e["time_since_delivered"] >= min_idle_ms for e in entries)


class _Consumer:
    """One consumer of the stream's group, on its own connection."""

    def __init__(self, stream: str, name: str, log: ReaderLog, clock: Clock) -> None:
        self.stream, self.name, self.log, self.clock = stream, name, log, clock
        self.r = redis_client()
        self.processed = 0

    def _process(self, entry_id: bytes, fields: dict) -> None:
        self.log.processed(int(fields[b"id"]), self.clock.now())
        self.processed += 1

    def read_until_crash(self, batch: int, crash_after: int) -> int:
        """Read, process and XACK entry by entry; stop dead after ``crash_after`` entries."""
        while True:
            reply = self.r.xreadgroup(GROUP, self.name, {self.stream: ">"}, count=batch, block=100)
            if not reply:
                raise RuntimeError(f"{self.name} ran out of entries before #{crash_after}")
            for entry_id, fields in reply[0][1]:
                self._process(entry_id, fields)
                if self.processed == crash_after:
                    self.close()  # crash: no XACK for this entry, the rest of the batch unread
                    return int(fields[b"id"])
                self.r.xack(self.stream, GROUP, entry_id)

    def read_new(self, batch: int) -> None:
        """Read and XACK new entries until none are left."""
        while True:
            reply = self.r.xreadgroup(GROUP, self.name, {self.stream: ">"}, count=batch, block=100)
            if not reply or not reply[0][1]:
                return
            for entry_id, fields in reply[0][1]:
                self._process(entry_id, fields)
                self.r.xack(self.stream, GROUP, entry_id)

    def autoclaim(self, min_idle_ms: int, batch: int) -> tuple[int, list[int]]:
        """Take over idle pending entries with XAUTOCLAIM, process and XACK them."""
        claimed, counts, start = 0, [], "0-0"
        while True:
            next_id, entries, _deleted = self.r.xautoclaim(
                self.stream, GROUP, self.name, min_idle_ms, start_id=start, count=batch
            )
            if entries:
                ids = [e[0] for e in entries]
                info = self.r.xpending_range(
                    self.stream, GROUP, min=ids[0], max=ids[-1], count=len(ids)
                )
                counts += [int(e["times_delivered"]) for e in info]
            for entry_id, fields in entries:
                if fields is None:  # trimmed away while pending
                    continue
                self._process(entry_id, fields)
                self.r.xack(self.stream, GROUP, entry_id)
                claimed += 1
            if next_id in (b"0-0", "0-0"):
                return claimed, counts
            start = next_id

    def close(self) -> None:
        self.r.close()

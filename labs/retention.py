"""Retention on a real broker: when the log start offset moves, and what a late reader finds.

A one-partition topic with ``segment.ms`` = ``segment_ms`` and ``retention.ms`` =
``retention_ms`` receives ``rate_per_s`` records per second for ``duration_s`` seconds. A
probe (no group) polls the partition's beginning offset (the log start offset) every
:data:`POLL_S` seconds from the first send until ``observe_s`` seconds after it, recording
each jump; a new group with ``auto_offset_reset='earliest'`` joins ``join_after_s`` seconds
after the first send and reads to the end: how many records it finds, and the log start
offset its first fetch saw. The broker deletes expired segments on its own retention check
(``log.retention.check.interval.ms``, a broker setting: the course's stack sets 1000 ms;
there is no per-topic override), and the lab reports the interval it read from the broker.

The result's series: ``log_start_offset`` (the polled values), ``create_time`` (each
record's CreateTime in run time) and ``batch`` (the producer batch that carried it: the
broker rolls a segment per batch, on the batch's largest timestamp); its metrics: the late
group's join and first-fetch times, offsets and count, the jumps seen and the shortest
time a deleted record had been kept.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from kafka import TopicPartition

import sim.progress as progress
from labs.clients import poll_until_assigned
from labs.consume import drain, end_offsets
from labs.experiments.retention import RETENTION
from labs.naming import Scratch, scratch
from labs.recording import Clock, ReaderLog, Sends
from labs.workload import payload
from sim.analysis.result import Result, Series
from sim.core.history import OK

SOURCE = "kafka"
#: How often the probe reads the log start offset (s).
POLL_S = 0.05


def broker_retention_check_ms(s: Scratch) -> int:
    """The broker's ``log.retention.check.interval.ms``."""
    return int(s.broker_setting("log.retention.check.interval.ms"))


@progress.task("retention lab on the real brokers")
def run_retention(
    *,
    rate_per_s: float = 50.0,
    duration_s: float = 6.0,
    segment_ms: int = 1000,
    retention_ms: int = 2000,
    join_after_s: float = 5.0,
    observe_s: float = 9.0,
    seed: int = 0,
) -> Result:
    """Run the retention lab; see the module docstring."""
    RETENTION.check(locals())  # ranges and defaults: labs/experiments/retention.py
    params = dict(
        rate_per_s=rate_per_s,
        duration_s=duration_s,
        segment_ms=segment_ms,
        retention_ms=retention_ms,
        join_after_s=join_after_s,
        observe_s=observe_s,
    )
    n = int(round(rate_per_s * duration_s))
    with scratch("retention", redis_needed=False) as s:
        check_ms = broker_retention_check_ms(s)
        topic = s.topic(
            "retained",
            configs={
                "retention.ms": retention_ms,
                "segment.ms": segment_ms,
                "file.delete.delay.ms": 0,
            },
        )
        tp = TopicPartition(topic, 0)
        producer = s.producer(acks="all", enable_idempotence=True, linger_ms=0)
        probe = s.consumer()
        clock, sends, log = Clock(), Sends(), ReaderLog("group:late")
        late: dict = {}
        polls: list[tuple] = []  # (asked at, answered at, log start offset)
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=_late_reader,
                args=(s, topic, tp, log, clock, join_after_s, late),
                daemon=True,
            ),
            threading.Thread(target=_watch, args=(probe, tp, clock, stop, polls), daemon=True),
        ]
        for thread in threads:
            thread.start()
        with progress.task("sending", total=n, unit="msg") as sent:
            for i in range(n):  # paced sends; the watch and the late reader run beside them
                time.sleep(max(0.0, i / rate_per_s - clock.now()))
                sends.add_kafka(-1, clock.now(), producer.send(topic, value=payload(i)))
                sent.advance()
        futures = dict(sends._futures)
        sends.settle(producer, timeout_s=10)
        stamps, batches = _timestamps(futures, len(sends))
        time.sleep(max(0.0, observe_s - clock.now()))
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        if any(t.is_alive() for t in threads) or "error" in late or "found" not in late:
            raise RuntimeError(f"the late reader of {topic} did not finish: {late.get('error')}")
        if polls and polls[-1][0] == "error":
            raise RuntimeError(f"the log start offset probe of {topic} failed: {polls[-1]}")
        probe.close()
        end = clock.now()
    outcome = sends.array("outcome")
    asked = np.array([p[0] for p in polls], float)
    times = np.array([p[1] for p in polls], float)
    values = np.array([p[2] for p in polls], np.int64)
    jumps = np.flatnonzero(np.diff(values)) + 1
    created = clock.from_wall(stamps / 1000.0)
    # How long the newest record each jump deleted had been kept, when the probe saw it.
    kept = times[jumps] - created[values[jumps] - 1]
    available = np.zeros(len(sends), bool)
    available[late["log_start"] : late["end"]] = True
    history = sends.history([log.history(available=available)], end_time=end)
    return Result.from_history(
        "retention",
        SOURCE,
        history,
        seed=seed,
        params=params,
        settings={
            "run_id": s.run_id,
            "segment.ms": segment_ms,
            "retention.ms": retention_ms,
            "log.retention.check.interval.ms (broker)": check_ms,
        },
        series={
            "log_start_offset": Series("log_start_offset", times, values, "offset"),
            # when each of those answers was asked for: a jump seen in answer k happened
            # after answer k-1 was asked for
            "log_start_asked": Series("log_start_asked", times, asked, "s"),
            # each record's CreateTime, in run time (s)
            "create_time": Series("create_time", np.arange(len(stamps)), created, "s"),
            "batch": Series("batch", np.arange(len(stamps)), batches, "batch"),
        },
        metrics={
            "acked": int((outcome == OK).sum()),
            "retention_check_interval_ms": check_ms,
            "late_join_s": late["join_s"],
            "late_first_fetch_s": late["fetch_s"],
            "late_done_s": late["done_s"],
            "late_end_offset": late["end"],
            "late_log_start_offset": late["log_start"],
            "late_found": late["found"],
            "log_start_jumps": int(jumps.size),
            "shortest_kept_s": float(kept.min()) if kept.size else float("nan"),
        },
    )


def _watch(probe, tp, clock, stop: threading.Event, polls: list) -> None:
    """Read the log start offset every :data:`POLL_S` until ``stop``; each value is stamped
    with the times it was asked for and answered."""
    try:
        while not stop.is_set():
            asked = clock.now()
            offset = probe.beginning_offsets([tp], timeout_ms=5000)[tp]
            polls.append((asked, clock.now(), int(offset)))
            stop.wait(POLL_S)
    except Exception as exc:  # reported by the main thread
        polls.append(("error", repr(exc)))


def _late_reader(s, topic, tp, log, clock, join_after_s, out: dict) -> None:
    """At ``join_after_s`` a new group (earliest) joins and reads to the end offset of that
    instant; ``out`` gets the join, first-fetch and done times, the offsets and the count."""
    try:
        time.sleep(max(0.0, join_after_s - clock.now()))
        consumer = s.consumer(topic, group_id=s.group("late"), auto_offset_reset="earliest")
        try:
            out["join_s"] = clock.now()
            ends = end_offsets(consumer, [tp])
            first = poll_until_assigned(consumer)
            out["fetch_s"] = clock.now()
            seen = drain(consumer, log, clock, ends, records=first, commit=False)
            out["done_s"] = clock.now()
        finally:
            consumer.close(autocommit=False)
        offsets = sorted({r.offset for r in seen if r.offset < ends[tp]})
        out["end"] = int(ends[tp])
        out["log_start"] = int(offsets[0]) if offsets else int(ends[tp])
        out["found"] = len(offsets)
    except Exception as exc:  # reported by the main thread
        out["error"] = repr(exc)


def _timestamps(futures: dict, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each record's CreateTime (ms since the epoch; -1 if its send failed) and the index
    of the producer batch that carried it (records of one batch share kafka-python's
    produce future): the broker rolls segments per batch."""
    ts = np.full(n, -1, np.int64)
    batch = np.full(n, -1, np.int64)
    seen: dict[int, int] = {}
    for k, f in futures.items():
        if f.succeeded():
            ts[k] = f.value.timestamp
        batch[k] = seen.setdefault(id(getattr(f, "_produce_future", f)), len(seen))
    return ts, batch

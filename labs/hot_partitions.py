"""Hot partitions: skewed keys funnel traffic into one partition.

A producer sends ``rate_per_s`` messages a second for ``window_s`` seconds into a topic with
``partitions`` partitions, keyed by integer keys drawn from a Zipf (exponent ``zipf_s``) or a
uniform distribution over ``num_keys`` keys. The producer's default partitioner -- the Java
client's and kafka-python's (which the lab uses): murmur2 of the key bytes; librdkafka
clients default to CRC32 instead (``sim.models.partitioner``) -- picks the partition, so
under Zipf the partition holding the hottest key gets a large share of the traffic. The
per-partition counts are read back from Kafka (end offsets) and compared with what murmur2
predicts for the key sequence -- exactly.

A consumer group processes the topic with one worker per partition, each at a fixed
``service_rate_per_s`` (a partition is consumed by one thread at a time). A partition whose
arrival rate exceeds that builds lag while the others idle: the group's throughput is capped
by its hottest partition.

Mitigation: ``salt_buckets > 0`` appends a random salt (``#0 .. #salt_buckets-1``) to every
key, spreading a hot key over several partitions. Skew drops -- and the per-key order Kafka
promised is gone, since one key's messages now sit in partitions consumed at different
speeds (the checker's ``reordered`` column).
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np
from kafka import TopicPartition

import sim.progress as progress
from labs.clients import commit_offsets, poll_until_assigned, wait_until
from labs.consume import end_offsets, topic_partitions
from labs.experiments.hot_partitions import HOT_PARTITIONS, workload
from labs.naming import scratch
from labs.recording import (
    Clock,
    LabThread,
    ReaderLog,
    Sends,
    Worker,
    catch_up_time,
    join_all,
    lag_series,
)
from labs.sending import due_batches
from labs.workload import draw, lab_rngs, message_id, payload
from sim.analysis.result import Result
from sim.core.history import OK
from sim.models.partitioner import key_bytes, partition_of, partitions_for

SOURCE = "kafka"


@progress.task("hot partitions lab on the real brokers")
def run_hot_partitions(
    *,
    key_distribution: str = "zipf",
    rate_per_s: float = 1500.0,
    window_s: float = 2.0,
    partitions: int = 6,
    num_keys: int = 1000,
    zipf_s: float = 1.3,
    service_rate_per_s: float = 400.0,
    salt_buckets: int = 0,
    seed: int = 0,
) -> Result:
    """Run the hot-partitions lab; see the module docstring."""
    HOT_PARTITIONS.check(locals())  # ranges and defaults: labs/experiments/hot_partitions.py
    params = dict(
        key_distribution=key_distribution,
        rate_per_s=rate_per_s,
        window_s=window_s,
        partitions=partitions,
        num_keys=num_keys,
        zipf_s=zipf_s,
        service_rate_per_s=service_rate_per_s,
        salt_buckets=salt_buckets,
    )
    sent = draw(workload(**params), seed)
    offsets, key_seq = sent.publish_time, sent.keys
    (salt_rng,) = lab_rngs(seed, 1)
    salts = salt_rng.integers(0, max(1, salt_buckets), offsets.size)
    wire_keys = [
        key_bytes(k) + (f"#{b}".encode() if salt_buckets else b"")
        for k, b in zip(key_seq, salts, strict=True)
    ]
    predicted = (
        np.array([partition_of(w, partitions) for w in wire_keys])
        if salt_buckets
        else partitions_for(key_seq, partitions)
    )

    with scratch("hot", redis_needed=False) as s:
        topic = s.topic("events", partitions=partitions)
        tps = topic_partitions(topic, partitions)
        group = s.group("group-0")
        producer = s.producer(acks="all", enable_idempotence=True, linger_ms=5)
        consumer = s.consumer(topic, group_id=group, max_poll_records=2000)
        pending = poll_until_assigned(consumer)
        clock = Clock()
        sends = Sends()
        log = ReaderLog("group:0")
        stop = threading.Event()
        target = {"acked": None}
        worker = LabThread(
            "group-0",
            _partition_workers,
            consumer,
            pending,
            tps,
            log,
            clock,
            service_rate_per_s,
            stop,
            target,
        )
        worker.start()
        try:
            for start, stop_at, now in due_batches(offsets, clock):  # open-loop schedule
                for i in range(start, stop_at):
                    future = producer.send(topic, key=wire_keys[i], value=payload(i))
                    sends.add_kafka(int(key_seq[i]), now, future)
            sends.settle(producer, timeout_s=10)
            acked = int((sends.array("outcome") == OK).sum())
            probe = s.consumer()
            counts = end_offsets(probe, tps)
            probe.close()
            backlog_s = max(counts.values()) / service_rate_per_s
            wait_until(
                lambda: log.count() >= acked or worker.error,
                timeout_s=backlog_s + 5.0,
                what="the group's partition workers to process every message",
            )
        finally:
            stop.set()
            join_all([worker], timeout_s=10)
        end = clock.now()

    per_partition = np.array([counts[tp] for tp in tps])
    history = sends.history([log.history(available=np.ones(len(sends), bool))], end_time=end)
    send_t = sends.array("times")
    partition_of_msg = sends.array("partition")
    ids = np.array(log.ids, np.int64)
    times = np.array(log.times, float)
    series = {}
    metrics: dict = {
        "partition_skew": float(per_partition.max() / per_partition.mean()),
        "hottest_partition_share": float(per_partition.max() / per_partition.sum()),
        "partitions_match_murmur2": float(
            np.array_equal(per_partition, np.bincount(predicted, minlength=partitions))
        ),
    }
    group_lag = lag_series("lag:group:0", send_t, times, end=end)
    series["lag:group:0"] = group_lag
    metrics["peak_lag:group:0"] = float(group_lag.value.max())
    metrics["catch_up_s:group:0"] = catch_up_time(group_lag, after=window_s, threshold=0)
    for p in range(partitions):
        in_p = partition_of_msg == p
        lag = lag_series(
            f"lag:partition:{p}", send_t[in_p], times[np.isin(ids, np.nonzero(in_p)[0])], end=end
        )
        series[lag.name] = lag
        metrics[f"peak_lag:partition:{p}"] = float(lag.value.max())
        metrics[f"messages:partition:{p}"] = int(per_partition[p])
    metrics["throughput_per_s:group:0"] = float(acked / end) if end else 0.0
    metrics["publish_rate_per_s"] = float(send_t.size / send_t[-1]) if send_t[-1] > 0 else 0.0
    return Result.from_history(
        "hot_partitions",
        SOURCE,
        history,
        seed=seed,
        params=params,
        settings={
            "run_id": s.run_id,
            "kafka.partitions": partitions,
            "kafka.partitioner": "default (murmur2 of key bytes)",
            "kafka.acks": "all",
            "keys": f"{key_distribution} over {num_keys} keys"
            + (f" (s={zipf_s})" if key_distribution == "zipf" else ""),
            "key salting": f"{salt_buckets} buckets" if salt_buckets else "off",
            "consumer": f"one worker per partition at {service_rate_per_s:g} msg/s",
            "kafka.commit": "after processing, every 200 ms",
        },
        series=series,
        metrics=metrics,
    )


def _partition_workers(consumer, pending, tps, log, clock, rate, stop, target) -> None:
    """One worker per partition, each completing ``rate`` messages a second; commit every
    200 ms what was processed."""
    queues = {tp: deque() for tp in tps}
    workers = {tp: Worker(rate) for tp in tps}
    for r in pending:
        queues[TopicPartition(r.topic, r.partition)].append((0.0, r))
    done: dict = {}
    last_commit = 0.0
    while not stop.is_set():
        for batch in consumer.poll(timeout_ms=5).values():
            now = clock.now()
            for r in batch:
                queues[TopicPartition(r.topic, r.partition)].append((now, r))
        now = clock.now()
        for tp, q in queues.items():
            w = workers[tp]
            while q:
                ready_at, record = q[0]
                finish = w.finish_time(ready_at)
                if finish > now:
                    break
                q.popleft()
                w.complete(finish)
                log.processed(message_id(record.value), finish)
                done[tp] = record.offset + 1
        if now - last_commit > 0.2:
            commit_offsets(consumer, done)
            done, last_commit = {}, now
    commit_offsets(consumer, done)
    consumer.close(autocommit=False)

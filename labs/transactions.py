"""Transactions on a real broker: ``read_committed`` never returns an aborted record, the
default ``read_uncommitted`` does.

A transactional producer (kafka-python 3.0.12: ``transactional_id``, ``init_transactions``,
``begin_transaction``, ``commit_transaction``, ``abort_transaction``) runs ``transactions``
transactions of ``records_per_transaction`` keyed records each on a topic of ``partitions``
partitions. ``aborted`` of them, drawn from the seed, are aborted -- after their records
were flushed to the broker (the broker acknowledged them: they are in the log, marked
aborted by the abort marker); the others are committed. Then two readers read the topic
from the beginning to its end, with ``assign`` (no group):

- ``consumer:read_committed`` (``isolation_level='read_committed'``): expected to process
  exactly the committed records;
- ``consumer:read_uncommitted`` (``isolation_level='read_uncommitted'``, kafka-python's and
  the Java client's default): expected to process every acknowledged record.

Metrics: ``records_committed``, ``records_aborted``, ``aborted_seen:<reader>`` (aborted
records each reader returned), ``control_records`` (offsets taken by commit and abort
markers: the end offsets minus the records written) and ``expected_control_records`` (one
marker per transaction and partition it wrote to).
"""

from __future__ import annotations

import numpy as np

import sim.progress as progress
from labs.clients import read_all
from labs.consume import topic_partitions
from labs.experiments.transactions import TRANSACTIONS
from labs.naming import scratch
from labs.recording import Clock, ReaderLog, Sends
from labs.workload import lab_rngs, message_id, payload
from sim.analysis.result import Result
from sim.models.partitioner import key_bytes

SOURCE = "kafka"
#: How long a reader may take to read the topic to its end (s).
READ_TIMEOUT_S = 15.0
#: Keys of the records (record ``j`` of a transaction has key ``j % KEYS``).
KEYS = 16


def aborted_transactions(transactions: int, aborted: int, seed: int) -> np.ndarray:
    """Which transactions abort (a boolean per transaction), drawn from ``seed``."""
    rng = lab_rngs(seed, 1)[0]
    which = np.zeros(transactions, bool)
    which[rng.choice(transactions, size=aborted, replace=False)] = True
    return which


@progress.task("transactions lab on the real brokers")
def run_transactions(
    *,
    transactions: int = 10,
    records_per_transaction: int = 10,
    aborted: int = 3,
    partitions: int = 2,
    seed: int = 0,
) -> Result:
    """Run the transactions lab; see the module docstring."""
    TRANSACTIONS.check(locals())  # ranges and defaults: labs/experiments/transactions.py
    params = dict(
        transactions=transactions,
        records_per_transaction=records_per_transaction,
        aborted=aborted,
        partitions=partitions,
    )
    aborts = aborted_transactions(transactions, aborted, seed)
    clock, sends = Clock(), Sends()
    txn_of: list[int] = []
    with scratch("transactions", redis_needed=False) as s:
        topic = s.topic("payments", partitions=partitions)
        tps = topic_partitions(topic, partitions)
        producer = s.producer(transactional_id=s.kafka_name("producer"))
        producer.init_transactions()
        with progress.task("transactions", total=transactions, unit="txn") as done:
            for t in range(transactions):
                producer.begin_transaction()
                for j in range(records_per_transaction):
                    i, key = len(sends), j % KEYS
                    future = producer.send(topic, key=key_bytes(key), value=payload(i))
                    sends.add_kafka(key, clock.now(), future)
                    txn_of.append(t)
                sends.settle(producer)  # the records are in the log before the outcome
                if aborts[t]:
                    producer.abort_transaction()
                else:
                    producer.commit_transaction()
                done.advance()
        sends.require_acknowledged(topic)
        logs, ends = {}, {}
        for isolation in ("read_committed", "read_uncommitted"):
            log = logs[isolation] = ReaderLog(f"consumer:{isolation}")
            reader = s.consumer(isolation_level=isolation)
            reader.assign(tps)
            reader.seek_to_beginning(*tps)
            ends = reader.end_offsets(tps, timeout_ms=5000)
            for r in read_all(reader, ends, timeout_s=READ_TIMEOUT_S):
                log.processed(message_id(r.value), clock.now())
            reader.close(autocommit=False)
        end = clock.now()
    in_aborted = aborts[np.array(txn_of, np.int64)]
    committed = ~in_aborted
    history = sends.history(
        [logs["read_committed"].history(expected=committed), logs["read_uncommitted"].history()],
        end_time=end,
    )
    part = sends.array("partition")
    markers = sum(len(set(part[np.array(txn_of) == t].tolist())) for t in range(transactions))
    metrics = {
        "transactions": transactions,
        "aborted_transactions": int(aborts.sum()),
        "records_committed": int(committed.sum()),
        "records_aborted": int(in_aborted.sum()),
        "control_records": int(sum(ends.values()) - len(sends)),
        "expected_control_records": markers,
    }
    for isolation, log in logs.items():
        seen = np.unique(np.array(log.ids, np.int64))
        metrics[f"aborted_seen:consumer:{isolation}"] = int(in_aborted[seen].sum())
    return Result.from_history(
        "transactions",
        SOURCE,
        history,
        seed=seed,
        params=params,
        settings={
            "run_id": s.run_id,
            "kafka.partitions": partitions,
            "producer.transactional_id": s.kafka_name("producer"),
            "aborted transactions": [int(t) for t in np.flatnonzero(aborts)],
        },
        metrics=metrics,
    )

"""The durable partitioned log: a Kafka topic and its producer.

The producer maps each key to a partition exactly as the chosen client's partitioner
(``partitioner``: murmur2 or librdkafka's CRC32, via :mod:`sim.models.partitioner`; null
keys by ``null_key_partitioning``, uniform sticky by default as in Java; partitions may be
added at ``repartition_at_s``), batches sends per
partition for ``linger_ms``, waits out an unavailable leader (failing sends that outlive
``delivery_timeout_ms``), and retries requests whose response was lost -- writing a
duplicate each time unless the producer is idempotent. A partition may cap its append
throughput (a FIFO server). With ``acks`` other than ``all`` a leader failure truncates
the writes of its last ``replication_lag_ms``: acknowledged, never readable.

Each :class:`Partition` is then a set of arrays in offset order: message ids, append
times and deletion times. Retention deletes whole segments by time and by size
(:mod:`sim.models.segments`): deletion times never decrease with the offset, so "the log
start offset at time t" and "the end offset at time t" are binary searches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.core import faults as fl
from sim.core.faults import Fault
from sim.core.history import FAILED, OK, UNKNOWN
from sim.core.queue import departures
from sim.core.validation import check_bool, check_choice, check_number
from sim.core.workload import Messages
from sim.models.partitioner import assign_partitions, check_partitioning
from sim.models.restarts import resend
from sim.models.segments import deletion_times


@dataclass(frozen=True)
class Log:
    """A Kafka topic and its producer.

    ``partitions`` partitions; retention by time (``retention_ms``) and per-partition size
    (``retention_bytes``; null = unlimited), deleting whole segments (rolled at
    ``segment_bytes`` or ``segment_ms``) every ``retention_check_interval_ms``
    (:mod:`sim.models.segments`). Producer: ``linger_ms`` batching, ``acks``
    ("0", "1", "all"), ``retries`` with ``retry_backoff_ms``, ``enable_idempotence``; a
    share ``request_error_rate`` of produce requests lose their response after the write
    (the classic cause of duplicates without idempotence); sends expire after
    ``delivery_timeout_ms`` while a leader is unavailable; with ``acks`` other than "all" a
    leader failure loses the writes of its last ``replication_lag_ms``.
    ``partition_rate_per_s`` caps each partition's append throughput (null = no cap).
    Partitioning (:mod:`sim.models.partitioner`): ``partitioner`` for keyed records,
    ``null_key_partitioning`` with ``batch_size`` and ``sticky_partitioning_linger_ms`` for
    null keys; ``partitions_after`` partitions from ``repartition_at_s`` on (the time the
    producer's metadata shows them; consumers own them from the start).
    """

    partitions: int = 12
    retention_ms: float | None = 604_800_000.0
    retention_bytes: int | None = None
    segment_bytes: int = 1_073_741_824
    segment_ms: float = 604_800_000.0
    retention_check_interval_ms: float = 300_000.0
    linger_ms: float = 0.0
    acks: str = "all"
    retries: int = 5
    retry_backoff_ms: float = 100.0
    enable_idempotence: bool = True
    request_error_rate: float = 0.0
    delivery_timeout_ms: float = 120_000.0
    replication_lag_ms: float = 50.0
    partition_rate_per_s: float | None = None
    network_delay_ms: float = 0.5
    partitioner: str = "murmur2"
    null_key_partitioning: str = "uniform_sticky"
    batch_size: int = 16_384
    sticky_partitioning_linger_ms: float = 10.0
    partitions_after: int | None = None
    repartition_at_s: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.acks, (int, np.integer)) and not isinstance(self.acks, bool):
            object.__setattr__(self, "acks", str(self.acks))
        check_number(self, "partitions", 1, 10_000, integer=True)
        check_number(self, "retention_ms", 0.0, 1e15, optional=True, lo_open=True)
        check_number(self, "retention_bytes", 1, 2**50, integer=True, optional=True)
        check_number(self, "segment_bytes", 1, 2**50, integer=True)
        check_number(self, "segment_ms", 0.0, 1e15, lo_open=True)
        check_number(self, "retention_check_interval_ms", 0.0, 1e12, lo_open=True)
        check_number(self, "linger_ms", 0.0, 1e6)
        check_choice(self, "acks", ("0", "1", "all"))
        check_number(self, "retries", 0, 1_000_000, integer=True)
        check_number(self, "retry_backoff_ms", 0.0, 1e7)
        check_bool(self, "enable_idempotence")
        check_number(self, "request_error_rate", 0.0, 1.0)
        check_number(self, "delivery_timeout_ms", 0.0, 1e12)
        check_number(self, "replication_lag_ms", 0.0, 1e7)
        check_number(self, "partition_rate_per_s", 0.0, 1e9, optional=True, lo_open=True)
        check_number(self, "network_delay_ms", 0.0, 1e6)
        check_partitioning(self)
        if self.enable_idempotence and self.acks != "all":
            raise ValueError('Log "enable_idempotence" requires "acks" = "all" (as in Kafka).')


@dataclass(frozen=True)
class Partition:
    """One partition, in offset order: ``ids`` (message ids; a producer retry without
    idempotence appears twice), ``append`` and ``delete`` times (s), ``size`` (bytes)."""

    index: int
    ids: np.ndarray
    append: np.ndarray
    delete: np.ndarray
    size: np.ndarray

    def end_offset(self, t: float) -> int:
        """Offsets appended at or before ``t`` (the high watermark)."""
        return int(np.searchsorted(self.append, t, side="right"))

    def start_offset(self, t: float) -> int:
        """The log start offset at ``t``: entries deleted at or before ``t`` are gone."""
        return int(np.searchsorted(self.delete, t, side="right"))

    def offset_for_time(self, t: float) -> int:
        """First offset appended at or after ``t`` (``offsetsForTimes``)."""
        return int(np.searchsorted(self.append, t, side="left"))

    def __len__(self) -> int:
        return int(self.ids.size)


@dataclass(frozen=True)
class Topic:
    """The topic after the run: its partitions, each message's partition and send
    outcome, and producer counts."""

    partitions: tuple[Partition, ...]
    partition: np.ndarray
    outcome: np.ndarray
    duplicates_written: int
    truncated: int
    expired: int


def _linger(t: np.ndarray, linger_s: float) -> np.ndarray:
    """Send time of each record: its batch closes ``linger_s`` after the batch's first
    record (batches per partition, greedy, as the record accumulator does)."""
    if linger_s <= 0 or t.size == 0:
        return t
    out = np.empty_like(t)
    i, n = 0, t.size
    while i < n:
        close = t[i] + linger_s
        j = int(np.searchsorted(t, close, side="right"))
        out[i:j] = close
        i = j
    return out


def produce(log: Log, msgs: Messages, faults: tuple[Fault, ...], rng: np.random.Generator) -> Topic:
    """Send every message of ``msgs`` to the topic; return the topic and the outcomes."""
    n, P = len(msgs), log.partitions_after or log.partitions
    part = assign_partitions(log, msgs.keys, msgs.publish_time, msgs.size, rng)
    outcome = np.full(n, OK, np.int8)
    t = msgs.publish_time
    delay = log.network_delay_ms / 1000.0
    down_all = [
        f
        for f in faults
        if (f.kind == "leader_unavailable" and f.target == "log")
        or (f.kind == "broker_down" and f.target == "log")
    ]
    # Producer request errors: the write happens, the response is lost.
    if log.request_error_rate > 0 and log.acks != "0":
        fails = (
            rng.geometric(1.0 - log.request_error_rate, n) - 1
            if log.request_error_rate < 1
            else np.full(n, log.retries + 1)
        )
        fails = np.minimum(fails, log.retries + 1)
    else:
        fails = np.zeros(n, np.int64)
    outcome[fails > log.retries] = UNKNOWN
    copies = (
        np.ones(n, np.int64) if log.enable_idempotence else np.minimum(fails + 1, log.retries + 1)
    )
    backoff = log.retry_backoff_ms / 1000.0

    parts, truncated, expired, dup = [], 0, 0, 0
    small = part.astype(np.int16) if P < 2**15 else part  # radix sort for small ints
    by_part = np.argsort(small, kind="stable")
    bounds = np.searchsorted(part[by_part], np.arange(P + 1))
    for p in range(P):
        ids = by_part[bounds[p] : bounds[p + 1]]
        send = _linger(t[ids], log.linger_ms / 1000.0)
        # Leader unavailable: sends wait for the leader; expire after delivery_timeout_ms.
        mine = down_all + [
            f for f in faults if f.kind == "leader_unavailable" and f.target == f"partition:{p}"
        ]
        starts, ends = fl.merge((f.start_s, f.end_s) for f in mine)
        if starts.size:
            w = np.searchsorted(starts, send, side="right") - 1
            hit = (w >= 0) & (send < ends[np.maximum(w, 0)])
            resume = np.where(hit, ends[np.maximum(w, 0)], send)
            dead = hit & (resume - t[ids] > log.delivery_timeout_ms / 1000.0)
            outcome[ids[dead]] = FAILED
            expired += int(dead.sum())
            keep = ~dead
            ids, send = ids[keep], resume[keep]
        ids, send, restarted = resend(ids, t[ids], send, faults, delay, log.acks)
        dup += restarted
        arrive = send + delay
        if log.partition_rate_per_s is not None:
            order = np.argsort(arrive, kind="stable")
            ids, arrive = ids[order], arrive[order]
            arrive = departures(arrive, np.full(ids.size, 1.0 / log.partition_rate_per_s))
        # Retried copies (no idempotence) are appended after the retry backoff.
        c = copies[ids]
        dup += int(c.sum() - c.size)
        if (c > 1).any():
            rep = np.repeat(np.arange(ids.size), c)
            k = np.arange(rep.size) - np.repeat(np.cumsum(c) - c, c)
            ids, arrive = ids[rep], arrive[rep] + k * backoff
        if arrive.size > 1 and (np.diff(arrive) < 0).any():
            order = np.argsort(arrive, kind="stable")
            ids, arrive = ids[order], arrive[order]
        # acks=0/1: a leader failure loses the writes not yet replicated.
        if log.acks != "all" and starts.size:
            lost = np.zeros(ids.size, bool)
            for s in starts:
                lost |= (arrive >= s - log.replication_lag_ms / 1000.0) & (arrive < s)
            truncated += int(lost.sum())
            ids, arrive = ids[~lost], arrive[~lost]
        size = _take(msgs.size, ids)
        delete = deletion_times(
            arrive, size, log.retention_ms, log.retention_bytes, log.segment_ms,
            log.segment_bytes, log.retention_check_interval_ms,
        )  # fmt: skip
        parts.append(Partition(p, ids, arrive, delete, size))
    return Topic(tuple(parts), part, outcome, dup, truncated, expired)


def _take(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``values[ids]``, but a constant (zero-stride) array stays a free read-only view."""
    if values.ndim == 1 and values.strides == (0,) and values.size:
        return np.broadcast_to(values[0], ids.size)
    return values[ids]

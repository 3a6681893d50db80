"""Key -> partition, exactly as the real clients' partitioners do it.

A keyed record goes to ``hash(key bytes) mod N``; which hash depends on the client:

- ``murmur2`` -- the Java producer's default (and kafka-python's ``DefaultPartitioner``,
  whose ``murmur2`` port this module reuses): ``(murmur2(key) & 0x7fffffff) % N``.
- ``consistent_random`` -- librdkafka's default (confluent-kafka, Go, .NET):
  ``crc32(key) % N`` on the unsigned CRC-32 (``rd_crc32`` is zlib's ``crc32`` when built
  with zlib and the same reflected 0xEDB88320 table otherwise, so :func:`zlib.crc32` is
  it exactly). librdkafka treats an *empty* key like a null key here.
- ``murmur2_random`` -- librdkafka's Java-compatible choice: ``rd_murmur2`` is the same
  murmur2 (seed 0x9747b28c), masked and reduced the same way, so it places keys exactly as
  Java does.

The same key therefore lands on different partitions from a Java or kafka-python producer
and from a librdkafka producer with its default. Null keys follow the producer's sticky
rule (:mod:`sim.models.null_key_partition`).

**Adding partitions** (``Log.partitions_after`` from ``Log.repartition_at_s``; a topic
setting, not a fault: ``kafka-topics --alter`` is a permanent change, not an outage with an
end). ``repartition_at_s`` is when the *producer* sees the new count -- a real one learns it
at its next metadata refresh, at most ``metadata.max.age.ms`` (5 min by default) after the
change. Records sent from then on are reduced modulo the new count, so a key moves unless
``h mod N == h mod M``: for hashes spread uniformly a share ``1 - gcd(N, M)/M`` of keys
(:func:`remapped_share`). A moved key's new records sit in another partition than its old
ones, so a consumer can process them first (the checker's ``reordered``). Consumers are
simplified: the group owns all ``M`` partitions from the start (the new ones stay empty
until the change). In Kafka the group notices them at its own metadata refresh and
rebalances; a member that gets a new partition with ``auto.offset.reset=latest`` after the
producer wrote to it skips those records -- not modelled.

The simulator and the labs encode a workload key ``k`` (an integer) as the bytes of
:func:`key_bytes`; the hash is computed once per distinct key (a million messages over ten
thousand keys cost ten thousand hashes), the rest is numpy.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
from kafka.partitioner.default import murmur2

from sim.core.validation import check_choice, check_number
from sim.models.null_key_partition import NULL_KEY_PARTITIONING, null_key_partitions

PARTITIONERS = ("murmur2", "consistent_random", "murmur2_random")


def key_bytes(key: int) -> bytes:
    """The bytes a workload key is sent with (simulator and labs alike)."""
    return f"key-{int(key)}".encode("ascii")


def key_hash(key: bytes, partitioner: str = "murmur2") -> int:
    """The non-negative number ``partitioner`` reduces modulo the partition count."""
    if partitioner not in PARTITIONERS:
        raise ValueError(f'"partitioner" must be one of {list(PARTITIONERS)}, got {partitioner!r}.')
    if partitioner == "consistent_random":
        return zlib.crc32(key)
    return murmur2(key) & 0x7FFFFFFF


def partition_of(key: bytes, num_partitions: int, partitioner: str = "murmur2") -> int:
    """The partition ``partitioner`` picks for the (non-empty) ``key``."""
    if num_partitions < 1:
        raise ValueError(f'"num_partitions" must be >= 1, got {num_partitions}.')
    return key_hash(key, partitioner) % num_partitions


def key_hashes(keys: np.ndarray, partitioner: str = "murmur2") -> np.ndarray:
    """:func:`key_hash` of every workload key in ``keys`` (one hash per distinct key)."""
    hashes, inverse = _distinct_hashes(keys, partitioner)
    return hashes[inverse].reshape(np.shape(keys))


def _distinct_hashes(keys: np.ndarray, partitioner: str) -> tuple[np.ndarray, np.ndarray]:
    keys = np.asarray(keys, dtype=np.int64).reshape(-1)
    uniq, inverse = _unique(keys)
    if partitioner != "consistent_random" and (not uniq.size or uniq[0] >= 0):
        return _murmur2_of_keys(uniq).astype(np.int64) & 0x7FFFFFFF, inverse
    hashes = np.fromiter((key_hash(key_bytes(k), partitioner) for k in uniq), np.int64, uniq.size)
    return hashes, inverse


_M, _SEED = np.uint32(0x5BD1E995), np.uint32(0x9747B28C)


def _murmur2_of_keys(keys: np.ndarray) -> np.ndarray:
    """``murmur2(key_bytes(k))`` (the Java client's hash, as uint32) of non-negative
    integer keys, vectorised: the keys of one decimal length share one byte layout."""
    out = np.empty(keys.size, np.uint32)
    digits = np.ones(keys.size, np.int64)
    for d in range(1, 19):
        digits += keys >= 10**d
    for nd in np.unique(digits):
        at = np.flatnonzero(digits == nd)
        k = keys[at]
        data = np.empty((at.size, 4 + int(nd)), np.uint32)
        data[:, :4] = np.frombuffer(b"key-", np.uint8)
        for i in range(int(nd)):  # the decimal digits, most significant first
            data[:, 4 + i] = (k // 10 ** (int(nd) - 1 - i)) % 10 + ord("0")
        out[at] = _murmur2_rows(data)
    return out


def _murmur2_rows(data: np.ndarray) -> np.ndarray:
    """Murmur2 (seed 0x9747b28c, as kafka's ``Utils.murmur2``) of every row of bytes."""
    length = data.shape[1]
    h = np.full(data.shape[0], _SEED ^ np.uint32(length), np.uint32)
    for i in range(0, length - length % 4, 4):
        k = data[:, i] | (data[:, i + 1] << 8) | (data[:, i + 2] << 16) | (data[:, i + 3] << 24)
        k *= _M
        k ^= k >> 24
        k *= _M
        h *= _M
        h ^= k
    tail = length & ~3
    if length % 4 >= 3:
        h ^= data[:, tail + 2] << 16
    if length % 4 >= 2:
        h ^= data[:, tail + 1] << 8
    if length % 4 >= 1:
        h ^= data[:, tail]
        h *= _M
    h ^= h >> 13
    h *= _M
    h ^= h >> 15
    return h


def _unique(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)``; without a sort when the keys are small
    non-negative integers (a workload's keys): a presence table and a lookup."""
    if keys.size == 0 or keys.min() < 0 or keys.max() > 4 * keys.size + (1 << 16):
        uniq, inverse = np.unique(keys, return_inverse=True)
        return uniq, inverse.reshape(-1)
    present = np.bincount(keys) > 0
    uniq = np.flatnonzero(present)
    lookup = np.empty(present.size, np.intp)
    lookup[uniq] = np.arange(uniq.size)
    return uniq, lookup[keys]


def partitions_for(keys: np.ndarray, num_partitions, partitioner: str = "murmur2") -> np.ndarray:
    """Partition of every workload key in ``keys`` (``num_partitions``: one count, or one
    per key when the count changes during the run)."""
    if np.any(np.asarray(num_partitions) < 1):
        raise ValueError(f'"num_partitions" must be >= 1, got {num_partitions}.')
    hashes, inverse = _distinct_hashes(keys, partitioner)
    if np.ndim(num_partitions) == 0:  # reduce once per distinct key, then spread
        parts = (hashes % int(num_partitions)).astype(np.int32)[inverse]
    else:
        parts = (hashes[inverse] % np.asarray(num_partitions).reshape(-1)).astype(np.int32)
    return parts.reshape(np.shape(keys))


def remapped_share(before: int, after: int) -> float:
    """Share of uniformly hashed keys whose partition changes when ``before`` partitions
    become ``after``: ``h mod N == h mod M`` for ``gcd(N, M)`` residues of every ``M``."""
    if before < 1 or after < 1:
        raise ValueError(f"partition counts must be >= 1, got {before} and {after}.")
    return 1.0 - math.gcd(before, after) / after


def check_partitioning(log) -> None:
    """Validate the partitioning fields of a :class:`~sim.models.log.Log`."""
    check_choice(log, "partitioner", PARTITIONERS)
    check_choice(log, "null_key_partitioning", NULL_KEY_PARTITIONING)
    check_number(log, "batch_size", 1, 2**31 - 1, integer=True)
    check_number(log, "sticky_partitioning_linger_ms", 0.0, 900_000.0)
    check_number(log, "partitions_after", 1, 10_000, integer=True, optional=True)
    check_number(log, "repartition_at_s", 0.0, 1e9, optional=True)
    if (log.partitions_after is None) != (log.repartition_at_s is None):
        raise ValueError(
            'Log "partitions_after" and "repartition_at_s" go together: set both or neither.'
        )
    if log.partitions_after is not None and log.partitions_after <= log.partitions:
        raise ValueError(
            f'Log "partitions_after" must be > "partitions" ({log.partitions}): Kafka only adds '
            f"partitions, got {log.partitions_after}."
        )


def partition_counts_at(log, times: np.ndarray) -> np.ndarray | int:
    """The partition count the producer of ``log`` uses at each send time."""
    if log.partitions_after is None:
        return log.partitions
    return np.where(times >= log.repartition_at_s, log.partitions_after, log.partitions)


def assign_partitions(log, keys: np.ndarray, times: np.ndarray, sizes: np.ndarray, rng):
    """Partition of every send of a run: keyed records by ``log.partitioner``, null keys
    (``-1``) by ``log.null_key_partitioning``; the count may grow at ``repartition_at_s``."""
    n = int(keys.size)
    counts = partition_counts_at(log, times)
    part = np.empty(n, np.int32)
    keyed = keys >= 0
    if keyed.all():
        return partitions_for(keys, counts, log.partitioner) if n else part
    if keyed.any():
        c = counts[keyed] if isinstance(counts, np.ndarray) else counts
        part[keyed] = partitions_for(keys[keyed], c, log.partitioner)
    nul = ~keyed
    c = counts[nul] if isinstance(counts, np.ndarray) else np.full(int(nul.sum()), counts)
    part[nul] = null_key_partitions(
        log.null_key_partitioning,
        times[nul],
        np.broadcast_to(sizes, (n,))[nul],
        c,
        rng,
        batch_size=log.batch_size,
        linger_ms=log.linger_ms,
        sticky_linger_ms=log.sticky_partitioning_linger_ms,
    )
    return part

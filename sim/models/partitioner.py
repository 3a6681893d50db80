"""Key -> partition, exactly as Kafka's default partitioner does it.

Kafka's Java producer (and kafka-python, whose ``murmur2`` this module reuses) hashes the
key bytes with murmur2, clears the sign bit and takes the remainder by the partition count.
The simulator and the labs encode a workload key ``k`` (an integer) as the bytes of
:func:`key_bytes`, so the same key sequence lands on the same partitions in both -- exactly.
"""

from __future__ import annotations

import numpy as np
from kafka.partitioner.default import murmur2


def key_bytes(key: int) -> bytes:
    """The bytes a workload key is sent with (simulator and labs alike)."""
    return f"key-{int(key)}".encode("ascii")


def partition_of(key: bytes, num_partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key``."""
    if num_partitions < 1:
        raise ValueError(f'"num_partitions" must be >= 1, got {num_partitions}.')
    return (murmur2(key) & 0x7FFFFFFF) % num_partitions


def partitions_for(keys: np.ndarray, num_partitions: int) -> np.ndarray:
    """Partition of every key in ``keys`` (integers, as in a workload).

    The hash is computed once per distinct key, so a million messages over ten thousand
    keys cost ten thousand hashes.
    """
    keys = np.asarray(keys, dtype=np.int64)
    uniq, inverse = np.unique(keys, return_inverse=True)
    parts = np.fromiter(
        (partition_of(key_bytes(k), num_partitions) for k in uniq), np.int32, uniq.size
    )
    return parts[inverse].reshape(keys.shape)

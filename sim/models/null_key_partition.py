"""Where records without a key go: the producer's null-key (sticky) partitioning.

A record with a null key has no hash, so each client picks a partition its own way. The
four rules below are what the real clients do (read from their source):

- ``uniform_sticky`` -- Java producer since 3.3 (KIP-794, ``BuiltInPartitioner``): every
  null-key record goes to the current sticky partition until ``batch_size`` bytes
  (``batch.size``, default 16384) have been produced to it; the record that reaches the
  threshold still goes there, then a new partition is drawn uniformly from all partitions
  (it may be the same one). Java's adaptive weighting by queue length
  (``partitioner.adaptive.partitioning.enable``) is uniform when the brokers keep up, which
  is what is modelled; its 2 x ``batch.size`` cap for unready batches is not.
- ``sticky`` -- Java producer 2.4 to 3.2 (KIP-480, ``StickyPartitionCache``) and
  kafka-python 3.0.12's opt-in ``StickyPartitioner``: the sticky partition changes when a
  new batch is opened -- the current one is full (the next record would pass
  ``batch_size`` bytes) or was sent, ``linger_ms`` after its first record -- and the new
  one is drawn uniformly from the *other* partitions. With ``linger_ms`` = 0 every record
  opens a batch (the simulator sends each record at once); the real sender, blocked on
  in-flight requests, groups a little more under load.
- ``sticky_linger`` -- librdkafka since 1.5 (confluent-kafka, Go, .NET; checked on 2.16.1):
  a new partition is drawn uniformly from all partitions (it may be the same) once
  ``sticky.partitioning.linger.ms`` has passed since the last draw (default 2 x
  ``linger.ms`` = 10 ms), by time alone, never by bytes.
- ``random`` -- every record drawn uniformly: kafka-python 3.0.12's default
  ``DefaultPartitioner`` and librdkafka with ``sticky.partitioning.linger.ms`` = 0.

All four are vectorised: records are cut into runs (one partition each) and one draw is
made per run. ``random`` and byte runs of equal-sized records cost O(n) numpy; runs cut by
time or by uneven sizes cost one ``searchsorted`` per run.
"""

from __future__ import annotations

import numpy as np

NULL_KEY_PARTITIONING = ("uniform_sticky", "sticky", "sticky_linger", "random")


def null_key_partitions(
    rule: str,
    times: np.ndarray,
    sizes: np.ndarray,
    counts: np.ndarray,
    rng: np.random.Generator,
    *,
    batch_size: int = 16_384,
    linger_ms: float = 0.0,
    sticky_linger_ms: float = 10.0,
) -> np.ndarray:
    """Partition of each null-key record (``times`` non-decreasing, in send order).

    ``counts`` is the partition count the producer knows at each record (it may grow
    during the run); a run takes the count at its first record.
    """
    if rule not in NULL_KEY_PARTITIONING:
        raise ValueError(
            f'"null_key_partitioning" must be one of {list(NULL_KEY_PARTITIONING)}, got {rule!r}.'
        )
    n = int(times.size)
    counts = np.broadcast_to(np.asarray(counts, np.int64), (n,))
    if n == 0:
        return np.empty(0, np.int32)
    if rule == "random" or (rule == "sticky_linger" and sticky_linger_ms <= 0):
        return _uniform(rng, counts).astype(np.int32)
    if rule == "uniform_sticky":
        starts = byte_runs(sizes, batch_size, inclusive=True)
    elif rule == "sticky":
        starts = _sticky_runs(times, sizes, batch_size, linger_ms / 1000.0)
    else:
        starts = time_runs(times, sticky_linger_ms / 1000.0)
    run_counts = counts[starts]
    chosen = _walk_avoiding(rng, run_counts) if rule == "sticky" else _uniform(rng, run_counts)
    lengths = np.diff(np.append(starts, n))
    return np.repeat(chosen, lengths).astype(np.int32)


def _uniform(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """One uniform draw in ``0..counts-1`` per element."""
    lo = int(counts.min())
    if lo == int(counts.max()):
        return rng.integers(0, lo, counts.size)
    return (rng.random(counts.size) * counts).astype(np.int64)


def _walk_avoiding(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """Successive draws, each uniform over the partitions other than the previous one
    (with one partition: 0). Within a stretch of equal counts P this is a cumulative sum
    of steps uniform in ``1..P-1``, modulo P; counts only grow, so the previous partition
    is always valid in the next stretch."""
    steps = (rng.random(counts.size) * np.maximum(counts - 1, 1)).astype(np.int64) + 1
    steps[0] = _uniform(rng, counts[:1])[0]
    out = np.empty(counts.size, np.int64)
    cuts = np.flatnonzero(np.diff(counts)) + 1
    prev = 0
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, counts.size], strict=True):
        P = int(counts[lo])
        out[lo:hi] = 0 if P == 1 else (prev + np.cumsum(steps[lo:hi])) % P
        prev = int(out[hi - 1])
    return out


def byte_runs(sizes: np.ndarray, batch_size: int, *, inclusive: bool) -> np.ndarray:
    """First index of each run of records cut by bytes.

    ``inclusive``: a run ends with the record that brings it to ``batch_size`` bytes or
    more (uniform sticky); otherwise a run ends before the record that would take it past
    ``batch_size`` (a full batch). A record counts at least one byte.
    """
    sizes = np.asarray(sizes)
    n = int(sizes.size)
    if n == 0:
        return np.empty(0, np.int64)
    if sizes.strides == (0,) or int(sizes.min()) == int(sizes.max()):
        s = max(int(sizes[0]), 1)
        per = -(-batch_size // s) if inclusive else max(batch_size // s, 1)
        return np.arange(0, n, per, dtype=np.int64)
    cs = np.cumsum(np.maximum(sizes, 1).astype(np.int64))
    starts, i = [], 0
    while i < n:
        starts.append(i)
        base = cs[i - 1] if i else 0
        if inclusive:
            i = int(np.searchsorted(cs, base + batch_size, side="left")) + 1
        else:
            i = max(int(np.searchsorted(cs, base + batch_size, side="right")), i + 1)
    return np.asarray(starts, np.int64)


def time_runs(times: np.ndarray, window_s: float) -> np.ndarray:
    """First index of each run cut by time: a run takes every record sent within
    ``window_s`` of its first one (the next record after that opens the next run)."""
    n = int(times.size)
    if window_s <= 0:
        return np.arange(n, dtype=np.int64)
    starts, i = [], 0
    while i < n:
        starts.append(i)
        i = int(np.searchsorted(times, times[i] + window_s, side="left"))
        i = max(i, starts[-1] + 1)
    return np.asarray(starts, np.int64)


def _sticky_runs(times: np.ndarray, sizes: np.ndarray, batch_size: int, linger_s: float):
    """Batches as the Java record accumulator closes them: full (the next record would
    take it past ``batch_size`` bytes) or sent ``linger_s`` after its first record."""
    n = int(times.size)
    if linger_s <= 0:
        return np.arange(n, dtype=np.int64)
    cs = np.cumsum(np.maximum(np.asarray(sizes), 1).astype(np.int64))
    starts, i = [], 0
    while i < n:
        starts.append(i)
        base = cs[i - 1] if i else 0
        by_time = int(np.searchsorted(times, times[i] + linger_s, side="left"))
        by_bytes = int(np.searchsorted(cs, base + batch_size, side="right"))
        i = max(min(by_time, by_bytes), i + 1)
    return np.asarray(starts, np.int64)

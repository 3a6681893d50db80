"""Log compaction: which records a compacted partition keeps, and when the cleaner drops the
others.

A compacted topic (``cleanup.policy=compact``) keeps, in the end, the latest record of every
key; a record with a null value (a *tombstone*) deletes its key, and goes itself some time
later. How the broker gets there (Kafka 4.1, ``LogCleaner``; the official documentation's
"Log Compaction" section, https://kafka.apache.org/41/documentation/#compaction):

- the partition is a sequence of segments; the *active* (last) one is never cleaned, and a
  segment rolls at the first append more than ``segment.ms`` after the segment's first
  record (:func:`sim.models.segments.segment_starts`);
- the cleaner thread wakes every ``log.cleaner.backoff.ms`` while there is nothing to do
  (modelled: it looks at this one partition at ``k * backoff``);
- the *cleanable* part ends at the active segment or at the first segment holding a record
  younger than ``min.compaction.lag.ms``, whichever comes first; the *dirty* part is what the
  cleaner has not cleaned yet below that end, and the partition is cleaned when
  dirty / (clean + dirty) > ``min.cleanable.dirty.ratio`` (records counted, not bytes);
- a cleaning keeps, below the cleanable end, the latest record of each key; a tombstone it
  keeps gets a delete horizon (the cleaning's time + ``delete.retention.ms``, KIP-534) and is
  dropped by the first cleaning after that horizon -- which needs new dirty records: in the
  model a partition nobody writes to keeps its tombstones (so did the course's Kafka 4.1.1
  in a 40 s watch of a compacted topic left alone after its first cleaning).

Not modelled: ``max.compaction.lag.ms``, sizes (``segment.bytes``), several partitions
competing for the cleaner threads, transactions. What is exact whatever the timing: reading
the partition from the beginning at any instant gives the latest state (every key's latest
value, deleted keys absent) -- compaction only bounds how much there is to read.

:func:`write_plan` is the compaction lab's sequence of writes; :func:`clean` runs the
cleaner over a sequence of appends and gives each record's removal time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.models.segments import segment_starts


@dataclass(frozen=True)
class Cleaner:
    """The topic's and the broker's settings that decide compaction (ms; the course's stack
    sets ``log.cleaner.backoff.ms=1000``, Kafka's default is 15000)."""

    segment_ms: float = 200.0
    min_compaction_lag_ms: float = 0.0
    delete_retention_ms: float = 500.0
    backoff_ms: float = 1000.0
    min_cleanable_dirty_ratio: float = 0.01

    def __post_init__(self) -> None:
        for name in ("segment_ms", "backoff_ms"):
            if not getattr(self, name) > 0:
                raise ValueError(f'"{name}" must be > 0, got {getattr(self, name)!r}.')
        for name in ("min_compaction_lag_ms", "delete_retention_ms"):
            if not getattr(self, name) >= 0:
                raise ValueError(f'"{name}" must be >= 0, got {getattr(self, name)!r}.')
        if not 0 <= self.min_cleanable_dirty_ratio < 1:
            raise ValueError(
                '"min_cleanable_dirty_ratio" must be in [0, 1), '
                f"got {self.min_cleanable_dirty_ratio!r}."
            )


@dataclass(frozen=True)
class CompactedLog:
    """A compacted partition over time: per record (offset) its append time, key, whether it
    is a tombstone and when the cleaner removed it (``inf``: never, within the run); the
    times of the cleanings."""

    append: np.ndarray
    keys: np.ndarray
    tombstone: np.ndarray
    removed_at: np.ndarray
    cleanings: np.ndarray

    def present(self, t: float) -> np.ndarray:
        """Which records are in the partition at time ``t``."""
        return (self.append <= t) & (self.removed_at > t)

    def records_at(self, t: np.ndarray | float) -> np.ndarray:
        """How many records the partition holds at each time of ``t``."""
        t = np.atleast_1d(np.asarray(t, float))
        written = np.searchsorted(np.sort(self.append), t, side="right")
        removed = np.searchsorted(np.sort(self.removed_at), t, side="right")
        return written - removed

    def state_at(self, t: float) -> dict[int, int]:
        """What a reader reading the partition from the beginning at ``t`` ends up with:
        key -> offset of its value, a tombstone deleting its key."""
        state: dict[int, int] = {}
        for offset in np.flatnonzero(self.present(t)).tolist():
            if self.tombstone[offset]:
                state.pop(int(self.keys[offset]), None)
            else:
                state[int(self.keys[offset])] = offset
        return state


def latest_state(keys: np.ndarray, tombstone: np.ndarray) -> dict[int, int]:
    """Key -> offset of its latest value once every write is applied (deleted keys absent)."""
    state: dict[int, int] = {}
    for offset, (key, dead) in enumerate(zip(keys.tolist(), tombstone.tolist(), strict=True)):
        if dead:
            state.pop(key, None)
        else:
            state[key] = offset
    return state


def write_plan(
    keys: int, updates_per_key: int, tombstoned_keys: int, rng: np.random.Generator
) -> list[tuple[int, bool]]:
    """The writes in order, ``(key, is_tombstone)``: each round updates every live key once,
    in an order drawn from ``rng``; the middle round ends with tombstones for
    ``tombstoned_keys`` keys, which get no update after it."""
    if not 0 <= tombstoned_keys < keys:
        raise ValueError(f'"tombstoned_keys" must be in [0, {keys - 1}], got {tombstoned_keys}.')
    deleted = set(rng.choice(keys, size=tombstoned_keys, replace=False).tolist())
    middle = updates_per_key // 2
    plan: list[tuple[int, bool]] = []
    for round_ in range(updates_per_key):
        live = [k for k in range(keys) if round_ <= middle or k not in deleted]
        plan += [(int(k), False) for k in rng.permutation(live)]
        if round_ == middle:
            plan += [(k, True) for k in sorted(deleted)]
    return plan


def clean(
    append: np.ndarray, keys: np.ndarray, tombstone: np.ndarray, cleaner: Cleaner, until_s: float
) -> CompactedLog:
    """Run the cleaner over the appends (times in s, sorted) until ``until_s``.

    Cost: a Python step per cleaner wake-up and O(n) vector work per cleaning."""
    append = np.asarray(append, float)
    keys = np.asarray(keys, np.int64)
    tombstone = np.asarray(tombstone, bool)
    n = append.size
    removed = np.full(n, np.inf)
    horizon = np.full(n, np.nan)  # a kept tombstone's delete horizon
    cleanings: list[float] = []
    if n == 0:
        return CompactedLog(append, keys, tombstone, removed, np.zeros(0))
    starts = segment_starts(append, np.ones(n), cleaner.segment_ms / 1000, 1 << 62, None, 1.0)
    segment = np.searchsorted(starts, np.arange(n), side="right") - 1
    seg_end = np.append(starts[1:], n)
    newest = append[seg_end - 1]  # each segment's newest record (append times are sorted)
    checkpoint = 0  # the first dirty offset
    lag = cleaner.min_compaction_lag_ms / 1000
    step = cleaner.backoff_ms / 1000
    for t in np.arange(step, until_s + 1e-12, step):
        written = int(np.searchsorted(append, t, side="right"))
        if written == 0:
            continue
        active = segment[written - 1]
        young = np.flatnonzero(newest[:active] > t - lag)  # closed segments still too young
        end_seg = int(young[0]) if young.size else int(active)
        end = int(starts[end_seg])
        live = removed > t
        dirty = int(live[checkpoint:end].sum())
        total = int(live[:end].sum())
        if dirty == 0 or dirty / total <= cleaner.min_cleanable_dirty_ratio:
            continue
        part = np.flatnonzero(live[:end])
        # the latest of each key in the cleanable part: the last occurrence of each key
        last = part[len(part) - 1 - np.unique(keys[part][::-1], return_index=True)[1]]
        keep = np.zeros(n, bool)
        keep[last] = True
        expired = tombstone & keep & (horizon <= t)
        keep &= ~expired
        gone = part[~keep[part]]
        removed[gone] = t
        new_tombs = last[tombstone[last] & np.isnan(horizon[last])]
        horizon[new_tombs] = t + cleaner.delete_retention_ms / 1000
        checkpoint = end
        cleanings.append(float(t))
    return CompactedLog(append, keys, tombstone, removed, np.array(cleanings))


def simulate(
    *,
    keys: int = 20,
    updates_per_key: int = 30,
    tombstoned_keys: int = 4,
    rate_per_s: float = 50.0,
    cleaner: Cleaner | None = None,
    after_s: float = 5.0,
    seed: int = 0,
) -> tuple[CompactedLog, float]:
    """A service writing the :func:`write_plan` at ``rate_per_s`` (constant spacing), the
    partition watched until ``after_s`` past the last write: the log and that end time."""
    if not rate_per_s > 0:
        raise ValueError(f'"rate_per_s" must be > 0, got {rate_per_s!r}.')
    plan = write_plan(keys, updates_per_key, tombstoned_keys, np.random.default_rng(seed))
    append = np.arange(len(plan)) / rate_per_s
    until = float(append[-1]) + after_s
    keys_ = np.array([k for k, _ in plan], np.int64)
    dead = np.array([d for _, d in plan], bool)
    return clean(append, keys_, dead, cleaner or Cleaner(), until), until


def lab_writes(
    plan: list[tuple[int, bool]], segment_ms: float, gap_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The compaction lab's writes as appends ``(times, keys, tombstone)``: the plan at
    once, its last update a segment later (it rolls the segment), one more update of that
    key ``gap_s`` after it (it rolls again: the lab writes it once the tombstones' delete
    retention has passed)."""
    n = len(plan)
    append = np.zeros(n + 1)
    append[n - 1] = segment_ms / 1000 + 0.05
    append[n] = append[n - 1] + gap_s
    keys = np.array([k for k, _ in plan] + [plan[-1][0]], np.int64)
    dead = np.array([d for _, d in plan] + [False], bool)
    return append, keys, dead

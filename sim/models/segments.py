"""Segments and retention: when Kafka deletes a partition's records.

A partition is a sequence of segment files. The active (last) segment *rolls* at the next
append that would take it past ``segment_bytes`` or whose timestamp is more than
``segment_ms`` after the segment's first record (``LogSegment.shouldRoll``). Every
``retention_check_interval_ms`` the broker deletes, oldest first:

- by time, every segment whose *newest* record is more than ``retention_ms`` old
  (``startMs - segment.largestTimestamp > retentionMs``) -- the active segment too: when
  every segment is deletable Kafka rolls an empty one first and deletes them all, which
  happens only once nothing newer was appended for ``retention_ms``;
- by size, the oldest whole segments while what is left is still at least
  ``retention_bytes``.

Sizes are the records' own bytes (the broker also counts batch and record headers, some
tens of bytes). Unless size deletes it first, a record lives at least ``retention_ms``
(more, by up to a segment's span plus a check interval), and the log start offset jumps a
segment at a time. The checks run at ``k * retention_check_interval_ms`` from the start of
the run.

:func:`deletion_times` gives each record's deletion time, non-decreasing with the offset
(a segment goes when it or an older one qualifies, so the per-segment times are a running
maximum). Cost: O(n) vector work plus a Python step per *segment* (not per record); when
one segment holds the whole partition (segment settings longer than the run: the defaults)
the answer is a single number, broadcast without a per-record array.
"""

from __future__ import annotations

import numpy as np


def first_check_after(t: np.ndarray | float, check_s: float) -> np.ndarray:
    """The first retention check strictly after ``t`` (checks at ``k * check_s``, > 0)."""
    return (np.floor(np.asarray(t, float) / check_s) + 1.0) * check_s


def first_check_at_or_after(t: np.ndarray | float, check_s: float) -> np.ndarray:
    """The first retention check at or after ``t``."""
    return np.ceil(np.asarray(t, float) / check_s) * check_s


def segment_starts(
    append: np.ndarray,
    size: np.ndarray,
    segment_s: float,
    segment_bytes: int,
    expire_s: float | None,
    check_s: float,
) -> np.ndarray:
    """Offsets at which a segment starts (the first is 0), for records appended at
    ``append`` (sorted) with sizes ``size``. ``expire_s``: retention by time, so a segment
    that expires whole while it is still active is deleted and the next record starts a
    new one."""
    n = append.size
    if n == 0:
        return np.zeros(0, np.int64)
    constant = size.strides == (0,)
    total = float(size[0]) * n if constant else float(size.sum())
    span = float(append[-1] - append[0])
    gap_can_expire = expire_s is not None and span > expire_s
    if span <= segment_s and total <= segment_bytes and not gap_can_expire:
        return np.zeros(1, np.int64)  # one segment: nothing rolls during the run
    # Breaks forced by an expired active segment: the check after the previous record's
    # expiry comes before the next record.
    forced = np.zeros(0, np.int64)
    if gap_can_expire:
        gone = first_check_after(append[:-1] + expire_s, check_s) <= append[1:]
        forced = np.flatnonzero(gone) + 1
    cum = None if constant else np.concatenate(([0.0], np.cumsum(size, dtype=float)))
    starts = [0]
    i = 0
    f = 0  # next forced break
    while True:
        j = int(np.searchsorted(append, append[i] + segment_s, side="right"))
        if constant:
            j = min(j, i + max(1, int(segment_bytes // max(float(size[0]), 1e-12))))
        else:
            j = min(j, int(np.searchsorted(cum, cum[i] + segment_bytes, side="right")) - 1)
        j = max(j, i + 1)
        while f < forced.size and forced[f] <= i:
            f += 1
        if f < forced.size:
            j = min(j, int(forced[f]))
        if j >= n:
            break
        starts.append(j)
        i = j
    return np.asarray(starts, np.int64)


def deletion_times(
    append: np.ndarray,
    size: np.ndarray,
    retention_ms: float | None,
    retention_bytes: int | None,
    segment_ms: float,
    segment_bytes: int,
    retention_check_interval_ms: float,
) -> np.ndarray:
    """Each record's deletion time (s): when its segment is deleted by time or size.

    ``append`` (sorted) and ``size`` are the partition's append times (s) and sizes
    (bytes). Returns an array as long as ``append``, non-decreasing (a read-only broadcast
    when every record shares one time, ``inf`` when retention never deletes)."""
    n = append.size
    if n == 0 or (retention_ms is None and retention_bytes is None):
        return np.broadcast_to(np.inf, n)
    check_s = retention_check_interval_ms / 1000.0
    expire_s = None if retention_ms is None else retention_ms / 1000.0
    starts = segment_starts(append, size, segment_ms / 1000.0, segment_bytes, expire_s, check_s)
    ends = np.append(starts[1:], n)  # one past each segment's last record
    seg_delete = np.full(starts.size, np.inf)
    if expire_s is not None:  # the segment's newest record is older than retention_ms
        seg_delete = first_check_after(append[ends - 1] + expire_s, check_s)
    if retention_bytes is not None:
        # Deleting segments 0..k leaves (appended bytes) - (bytes through k): delete k once
        # the appended bytes reach (bytes through k) + retention_bytes.
        if size.strides == (0,):
            need = ends * float(size[0]) + retention_bytes
            reach = np.ceil(need / max(float(size[0]), 1e-12)).astype(np.int64) - 1
        else:
            cs = np.cumsum(size, dtype=float)
            reach = np.searchsorted(cs, cs[ends - 1] + retention_bytes, side="left")
        ok = reach < n
        by_size = np.full(starts.size, np.inf)
        by_size[ok] = first_check_at_or_after(append[reach[ok]], check_s)
        seg_delete = np.minimum(seg_delete, by_size)
    seg_delete = np.maximum.accumulate(seg_delete)
    if starts.size == 1:
        return np.broadcast_to(seg_delete[0], n)
    return np.repeat(seg_delete, np.diff(np.append(starts, n)))

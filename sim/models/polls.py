"""Kafka poll batches, found in bulk.

A consumer polls ``max_poll_records`` records at a time: a poll at the instant its first
record ``j`` starts takes the next ``max_poll_records`` records appended by then (fewer if
fewer are there). Given a member's records (appended at ``a``, completed at ``d``, the
member free from ``t0``), :func:`batch_at` finds the poll batch holding one record without
replaying every poll before it: runs of full batches are stepped over in bulk, and long
runs of short ones by pointer doubling (:func:`batch_by_doubling`). Consumer groups
(:mod:`sim.models.groups`) use it to commit where a member's last batch left off.
"""

from __future__ import annotations

import numpy as np

from sim.core.queue import starts


def batch_starts(a, d, t0: float, lo: int, hi: int) -> np.ndarray:
    """Start times of records ``lo:hi`` (:func:`sim.core.queue.starts`, for a slice)."""
    if lo > 0:
        return np.maximum(a[lo:hi], d[lo - 1 : hi - 1])
    return starts(a[:hi], d[:hi], t0)


def last_batch_start(a, d, t0: float, lo: int, k: int) -> int:
    """The last record ``i`` in ``(lo, k]`` that surely starts a poll batch -- it was
    appended after its predecessor started, so no earlier poll could take it -- or
    ``lo`` (a batch start by construction)."""
    w, hi = 64, k
    while hi > lo:
        s0 = max(lo + 1, hi - w + 1)
        idx = np.flatnonzero(a[s0 : hi + 1] > batch_starts(a, d, t0, s0 - 1, hi))
        if idx.size:
            return s0 + int(idx[-1])
        hi, w = s0 - 1, 4 * w
    return lo


def batch_at(a, d, t0: float, i: int, k: int, max_poll_records: int) -> tuple[int, int]:
    """``[start, end)`` of the poll batch holding record ``k``, a batch starting at
    ``i <= k`` (records appended at ``a``, completed at ``d``, the member free from
    ``t0``). A batch polled when its first record ``j`` starts holds the next
    ``max_poll_records`` records appended by then (fewer if fewer are there); runs of
    full batches are stepped over in bulk, and long runs of short ones by pointer
    doubling."""
    N = max_poll_records
    w = 16
    for _ in range(64):
        m = (k - i) // N + 1
        js = i + N * np.arange(min(m, w), dtype=np.int64)
        st = np.maximum(a[js], np.where(js > 0, d[js - 1], t0))
        ends = np.minimum(js + N, np.searchsorted(a, st, side="right"))
        short = np.flatnonzero(ends < js + N)
        if short.size:
            j, e = int(js[short[0]]), int(ends[short[0]])
            if e > k:
                return j, e
            i = e
        elif js.size == m:
            return int(js[-1]), int(js[-1]) + N
        else:
            i, w = int(js[-1]) + N, 4 * w
    return batch_by_doubling(a, d, t0, i, k, N)


def batch_by_doubling(a, d, t0: float, i: int, k: int, max_poll_records: int) -> tuple[int, int]:
    """:func:`batch_at` by binary lifting over blocks of records."""
    N = max_poll_records
    while True:
        hi = min(k, i + (1 << 16) - 1)
        L = hi - i + 1
        st = batch_starts(a, d, t0, i, hi + 1)
        nxt = np.minimum(np.arange(i, hi + 1) + N, np.searchsorted(a, st, side="right"))
        up = np.append(np.minimum(nxt, hi + 1) - i, L).astype(np.int32)
        levels = [up]
        while (1 << (len(levels) - 1)) < L:
            levels.append(levels[-1][levels[-1]])
        x = 0
        for lv in reversed(levels):
            y = int(lv[x])
            if y < L:
                x = y
        j, e = i + x, int(nxt[x])
        if e > k:
            return j, e
        i = e

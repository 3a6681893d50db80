"""What a consumer group processed, kept as columns while the run goes.

A group's members record their processings chunk by chunk -- a record's message id,
completion time, partition and offset -- member after member within each control
interval. :class:`RecordLog` writes the chunks into preallocated columns (no list of
chunks, no joining them at the end: one copy of each processing, however long the run)
and, when an interval closes, puts its stretch in completion order. The stretches then
follow each other in time, so the whole log is in completion order without a sort of it;
where they do not (a zombie's late completions), one stable sort at the end restores it.
Every sort is stable: records of one instant keep the order they were recorded in, as a
single stable sort of everything would have left them.
"""

from __future__ import annotations

import numpy as np


class RecordLog:
    """Processings as columns ``ids`` (int64), ``times`` (float64), ``partition`` (int32)
    and ``offset`` (``offset_dtype``), room for ``capacity`` of them to begin with
    (more when needed)."""

    def __init__(self, capacity: int, offset_dtype=np.int64) -> None:
        capacity = max(int(capacity), 16)
        self.cols = [
            np.empty(capacity, np.int64),
            np.empty(capacity),
            np.empty(capacity, np.int32),
            np.empty(capacity, offset_dtype),
        ]
        self.size = 0  # records written
        self.mark = 0  # start of the open stretch

    def append(self, ids: np.ndarray, times: np.ndarray, pp: np.ndarray, off) -> None:
        """Write one chunk of records (in the order they were recorded)."""
        k, w = ids.size, self.size
        if w + k > self.cols[0].size:  # grow: double, at least
            grown = max(2 * self.cols[0].size, w + k)
            for i, col in enumerate(self.cols):
                new = np.empty(grown, col.dtype)
                new[:w] = col[:w]
                self.cols[i] = new
        for col, values in zip(self.cols, (ids, times, pp, off), strict=True):
            col[w : w + k] = values
        self.size = w + k

    def close_stretch(self) -> None:
        """Put the records written since the last call in completion order (stable)."""
        lo, hi = self.mark, self.size
        self.mark = hi
        t = self.cols[1][lo:hi]
        if t.size < 2 or bool((t[1:] >= t[:-1]).all()):
            return
        order = np.argsort(t, kind="stable")
        for col in self.cols:
            col[lo:hi] = col[lo:hi][order]

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(ids, times, partition, offset) of every record, in completion order (stable).
        The log hands its columns over: call it once, at the end."""
        self.close_stretch()
        cols, self.cols = [c[: self.size] for c in self.cols], []
        t = cols[1]
        if t.size > 1 and not bool((t[1:] >= t[:-1]).all()):
            order = np.argsort(t, kind="stable")
            cols = [c[order] for c in cols]
        ids, times, pp, off = cols
        return ids, times, pp, off

"""Aggregates beyond the checker's counts: lag, skew, catch-up, recovery.

Pure numpy on arrays (no SimPy), so the real-broker labs can use the same functions.

*Consumer lag* of a group at time ``t`` is the sum over partitions of the end offset
minus the group's position. Positions only move forward here (a rollback after a crash
shows up as duplicates, not as negative progress). :func:`lag_profile` gives the
exact step function from per-partition append times and position updates, as appended
minus positions (:class:`LagSteps`, read by binary searches, never merged into one
array); the peak lag is exact, the series are samples of it on a grid. From the profile:

- ``catch_up_s`` -- time from the peak to the first instant the lag is back under the
  threshold (1% of the peak, at least one message): theory says backlog/(mu - lambda);
- ``recovery_s`` -- the same, measured from the end of the last outage;
- lag *rate* and *acceleration* (first and second time derivatives of the sampled lag),
  the early warning a dashboard alerts on;
- ``partition_skew`` -- max/mean of messages per partition (1 = perfectly even).

:func:`published_lag` is the broker-agnostic variant for any reader (published but not
yet processed), usable on a lab history that has no offsets.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sim.core.history import History, ReaderHistory


class _LagQueries:
    """Catch-up and recovery times, from a lag step function's ``peak``, ``peak_time``
    and ``first_below``."""

    def threshold(self) -> float:
        return max(1.0, 0.01 * self.peak)

    def catch_up_s(self) -> float:
        """Seconds from the peak until the lag is back under the threshold."""
        return self.first_below(self.peak_time) - self.peak_time

    def recovery_s(self, outage_end: float) -> float:
        """Seconds from ``outage_end`` until the lag is back under the threshold."""
        return self.first_below(outage_end) - outage_end


@dataclass(frozen=True)
class LagProfile(_LagQueries):
    """Total lag as a step function: ``lag[i]`` holds from ``t[i]`` until ``t[i+1]``."""

    t: np.ndarray
    lag: np.ndarray

    def at(self, when: np.ndarray) -> np.ndarray:
        i = np.searchsorted(self.t, when, side="right") - 1
        out = np.where(i >= 0, self.lag[np.maximum(i, 0)], 0)
        return out.astype(float)

    @property
    def peak(self) -> float:
        return float(self.lag.max()) if self.lag.size else 0.0

    @property
    def peak_time(self) -> float:
        return float(self.t[int(np.argmax(self.lag))]) if self.lag.size else float("nan")

    def first_below(self, after: float, threshold: float | None = None) -> float:
        """First instant ``>= after`` at which the lag is at most ``threshold``."""
        thr = self.threshold() if threshold is None else threshold
        i0 = max(int(np.searchsorted(self.t, after, side="right")) - 1, 0)
        hit = np.flatnonzero(self.lag[i0:] <= thr)
        if not hit.size:
            return float("nan")
        return max(float(self.t[i0 + hit[0]]), after)


@dataclass(frozen=True)
class LagSteps(_LagQueries):
    """Total lag from ``start`` on as the difference of two step functions, never merged:
    records appended (``app``: every append time, sorted) minus the sum of the positions
    (``step_t``: the times of the position updates, sorted; ``cum[i]``: the forward
    steps of the first ``i`` updates, summed). The lag at an instant counts every event
    of that instant. It answers what :class:`LagProfile` answers, exactly, by binary
    searches: the lag only rises at appends (the peak is at one, or at ``start``) and
    only falls at position updates (so does every first passage below a threshold).
    ``chunk`` bounds the scratch memory of the scans."""

    app: np.ndarray
    step_t: np.ndarray
    cum: np.ndarray
    start: float
    chunk: int = 1 << 16

    def _level(self, when: np.ndarray) -> np.ndarray:
        """The lag after every event at or before ``when`` (all ``>= start``)."""
        a = np.searchsorted(self.app, when, side="right")
        return a - self.cum[np.searchsorted(self.step_t, when, side="right")]

    def at(self, when: np.ndarray) -> np.ndarray:
        when = np.asarray(when, float)
        return np.where(when >= self.start, self._level(when), 0).astype(float)

    @cached_property
    def _peak(self) -> tuple[float, float]:
        best, when = int(self._level(np.array([self.start]))[0]), self.start
        a0 = int(np.searchsorted(self.app, self.start, side="right"))
        # Blocks of appends: inside one, the lag right after an append is at most what was
        # appended by its last append minus the positions at its first; the lag right after
        # its last append is a value the lag takes. Only blocks whose bound reaches the
        # largest of those values can hold the peak: they are read, append by append.
        app, step_t, cum, size = self.app, self.step_t, self.cum, min(4096, self.chunk)
        first = np.arange(a0, app.size, size)
        last = np.minimum(first + size, app.size) - 1
        lo = np.searchsorted(step_t, app[first], side="right")  # updates by a block's start
        hi = np.searchsorted(step_t, app[last], side="right")  # ... and by its end
        reached, bound = last + 1 - cum[hi], last + 1 - cum[lo]
        for b in np.flatnonzero(bound >= max(best, int(reached.max(initial=best)))):
            # The lag right after each append of the block (an earlier append of a tied
            # instant only reads lower: the instant's last one decides).
            i, j, t = first[b], lo[b], app[first[b] : last[b] + 1]
            done = cum[np.searchsorted(step_t[j : hi[b]], t, side="right") + j]
            lag = np.arange(i + 1, i + 1 + t.size) - done
            k = int(np.argmax(lag))
            if lag[k] > best:
                best, when = int(lag[k]), float(t[k])
        return float(best), when

    @property
    def peak(self) -> float:
        return self._peak[0]

    @property
    def peak_time(self) -> float:
        return self._peak[1]

    def first_below(self, after: float, threshold: float | None = None) -> float:
        """First instant ``>= after`` at which the lag is at most ``threshold``."""
        thr = self.threshold() if threshold is None else threshold
        t0 = max(after, self.start)
        if self._level(np.array([t0]))[0] <= thr:
            return t0
        # Blocks of updates: inside one, the lag is at least what was appended by its first
        # update minus the positions after its last (ties included). Only blocks where
        # that bound is under the threshold are read, update by update.
        step_t, cum, size = self.step_t, self.cum, min(1024, self.chunk)
        first = np.arange(int(np.searchsorted(step_t, t0, side="right")), step_t.size, size)
        last = np.minimum(first + size, step_t.size) - 1
        low = np.searchsorted(self.app, step_t[first], side="right")
        low -= cum[np.searchsorted(step_t, step_t[last], side="right")]
        for j in first[low <= thr]:
            # The lag right after each update (an earlier update of a tied instant only
            # reads higher: the instant's last one decides).
            t = step_t[j : j + size]
            lag = np.searchsorted(self.app, t, side="right") - cum[j + 1 : j + 1 + t.size]
            hit = np.flatnonzero(lag <= thr)
            if hit.size:
                return float(t[hit[0]])
        return float("nan")


def _ordered(ev_t, ev_p, ev_pos):
    """The updates in time order (stable); no copies when they already are."""
    if ev_t.size < 2 or bool((ev_t[1:] >= ev_t[:-1]).all()):
        return ev_t, ev_p, ev_pos
    by_t = np.argsort(ev_t, kind="stable")
    return ev_t[by_t], ev_p[by_t], ev_pos[by_t]


#: Updates from which each partition's are found by a scan (see :func:`_by_partition`).
SCAN_FROM = 1 << 22


def _by_partition(p: np.ndarray, partitions: int):
    """The indices of each partition's entries of ``p``, in order, one partition at a
    time: a scan per partition when they are few and ``p`` is long (no ``p``-long index
    array), else one stable (radix) sort."""
    if partitions <= 64 and p.size >= SCAN_FROM:
        for q in range(partitions):
            yield np.flatnonzero(p == q)
        return
    small = p.astype(  # (the narrowest type: a radix sort of one byte is one pass)
        np.uint8 if partitions <= 256 else np.int16 if partitions < 2**15 else np.int64
    )
    within = np.argsort(small, kind="stable")
    bounds = np.zeros(partitions + 1, np.int64)
    for i in range(0, small.size, 1 << 20):  # (bincount casts to intp: a slice at a time)
        bounds[1:] += np.bincount(small[i : i + (1 << 20)], minlength=partitions)
    del small
    np.cumsum(bounds, out=bounds)
    for q in range(partitions):
        yield within[bounds[q] : bounds[q + 1]]


def lag_profile(
    appends: list[np.ndarray],
    ev_t: np.ndarray,
    ev_p: np.ndarray,
    ev_pos: np.ndarray,
    start: float,
    grid: np.ndarray,
    *,
    init: np.ndarray | None = None,
    all_appends: np.ndarray | None = None,
    chunk: int = 1 << 16,
) -> tuple[LagSteps, np.ndarray]:
    """Exact total lag from ``start`` on, given each partition's append times (sorted) and
    the position updates ``(time, partition, new position)``; and the lag of every
    partition (rows) at ``grid`` (columns).

    Every partition's position at ``start`` is either among the updates (one update per
    partition at ``start``) or given as ``init`` -- then every update comes at or after
    ``start`` and the arrays are used as they are (no copy when in time order). A
    partition's position is the running maximum of its updates; the total is the sum of
    the forward steps. ``all_appends`` (every partition's append times, sorted) saves the
    sort when several groups read one topic; ``chunk`` bounds the scratch memory of the
    queries (:class:`LagSteps`).
    """
    partitions = len(appends)
    t, p, pos = _ordered(ev_t, ev_p, ev_pos)
    if all_appends is None:
        all_appends = np.sort(np.concatenate(appends)) if appends else np.zeros(0)
    cum = np.zeros(t.size + 1, np.int64)
    step = cum[1:]  # forward step of each update, in time order (summed in place below)
    upto = np.searchsorted(t, grid, side="right")  # updates at or before each grid time
    by_part = np.zeros((partitions, grid.size))
    for q, idx in enumerate(_by_partition(p, partitions)):  # its updates, by time
        first = 0 if init is None else int(init[q])
        run = np.maximum.accumulate(pos[idx]).astype(np.int64, copy=False)
        if init is not None:
            np.maximum(run, first, out=run)
        if run.size:  # (the forward steps, with no prepended copy)
            step[idx[1:]] = run[1:] - run[:-1]
            step[idx[0]] = run[0] - first
        k = np.searchsorted(idx, upto, side="left") - 1  # its last update by each grid time
        ends = np.searchsorted(appends[q], grid, side="right")
        if init is not None:  # at or after start: at least the position at start
            at = run[np.maximum(k, 0)] if run.size else first
            by_part[q] = np.where(grid >= start, ends - np.where(k >= 0, at, first), 0)
        elif run.size:
            by_part[q] = np.where(k >= 0, ends - run[np.maximum(k, 0)], 0)
    np.cumsum(step, out=step)
    if init is not None:
        cum += int(np.sum(init))
    return LagSteps(all_appends, t, cum, float(start), chunk), by_part


def derivatives(t: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and second time derivatives of a sampled series (rate and acceleration)."""
    if t.size < 3:
        z = np.zeros(t.size)
        return z, z
    rate = np.gradient(value, t)
    return rate, np.gradient(rate, t)


def partition_counts(history: History, partitions: int | None = None) -> np.ndarray:
    """Messages per partition (sends with a partition only)."""
    p = history.partition[history.partition >= 0]
    n = partitions if partitions is not None else (int(p.max()) + 1 if p.size else 0)
    return np.bincount(p, minlength=n)


def skew(counts: np.ndarray) -> float:
    """Max/mean of ``counts`` (1.0 = perfectly even; nan when empty)."""
    counts = np.asarray(counts, float)
    if counts.size == 0 or counts.mean() == 0:
        return float("nan")
    return float(counts.max() / counts.mean())


def published_lag(history: History, reader: ReaderHistory, grid: np.ndarray) -> np.ndarray:
    """Expected messages published by each grid time minus those processed by then."""
    exp = np.ones(history.messages, bool) if reader.expected is None else reader.expected
    pub = np.sort(history.publish_time[exp])
    ids, first = np.unique(reader.ids, return_index=True)
    keep = exp[ids]
    done = np.sort(reader.times[first][keep])
    return (np.searchsorted(pub, grid, "right") - np.searchsorted(done, grid, "right")).astype(
        float
    )

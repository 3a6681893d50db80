"""Aggregates beyond the checker's counts: lag, skew, catch-up, recovery.

Pure numpy on arrays (no SimPy), so the real-broker labs can use the same functions.

*Consumer lag* of a group at time ``t`` is the sum over partitions of the end offset
minus the group's position. Positions only move forward here (a rollback after a crash
shows up as duplicates, not as negative progress). :func:`lag_profile` computes the
exact step function from per-partition append times and position updates; the peak lag
is exact, the series are samples of it on a grid. From the profile:

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

import numpy as np

from sim.core.history import History, ReaderHistory


@dataclass(frozen=True)
class LagProfile:
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

    def threshold(self) -> float:
        return max(1.0, 0.01 * self.peak)

    def first_below(self, after: float, threshold: float | None = None) -> float:
        """First instant ``>= after`` at which the lag is at most ``threshold``."""
        thr = self.threshold() if threshold is None else threshold
        i0 = max(int(np.searchsorted(self.t, after, side="right")) - 1, 0)
        hit = np.flatnonzero(self.lag[i0:] <= thr)
        if not hit.size:
            return float("nan")
        return max(float(self.t[i0 + hit[0]]), after)

    def catch_up_s(self) -> float:
        """Seconds from the peak until the lag is back under the threshold."""
        return self.first_below(self.peak_time) - self.peak_time

    def recovery_s(self, outage_end: float) -> float:
        """Seconds from ``outage_end`` until the lag is back under the threshold."""
        return self.first_below(outage_end) - outage_end


def _positions(ev_t, ev_p, ev_pos, partitions):
    """Per partition, the times and (running-max) positions after each update; and every
    update's time and forward step, in time order."""
    by_t = np.argsort(ev_t, kind="stable")
    t_sorted = ev_t[by_t]
    p_t = ev_p[by_t].astype(np.int16 if partitions < 2**15 else np.int64)
    within = np.argsort(p_t, kind="stable")  # stable sort of small ints is a radix sort
    bounds = np.searchsorted(p_t[within], np.arange(partitions + 1))
    del p_t
    pos = ev_pos[by_t]
    del by_t
    step = np.empty(pos.size, np.int64)  # forward step of each update, in time order
    per = []
    for q in range(partitions):
        idx = within[bounds[q] : bounds[q + 1]]  # this partition's updates, by time
        run = np.maximum.accumulate(pos[idx]).astype(np.int64)
        per.append((t_sorted[idx], run))
        step[idx] = np.diff(run, prepend=0)
    return per, t_sorted, step


def lag_profile(
    appends: list[np.ndarray],
    ev_t: np.ndarray,
    ev_p: np.ndarray,
    ev_pos: np.ndarray,
    start: float,
    chunk: int = 1 << 18,
) -> tuple[LagProfile, list[tuple[np.ndarray, np.ndarray]]]:
    """Exact total lag from ``start`` on, given each partition's append times and the
    position updates ``(time, partition, new position)`` (include one per partition at
    ``start``).

    The lag after every event is (records appended so far) - (sum of positions so far):
    one merged stream of +1 (append) and -k (a position moves k forward) in time order.
    Where several events share an instant only the lag after all of them is kept, so the
    order of ties (and of the sort) never shows. The merge runs over time slices of about
    ``chunk`` appends, so its scratch memory stays small however long the run.
    """
    per, step_t, step = _positions(ev_t, ev_p, ev_pos, len(appends))
    app = np.concatenate(appends) if appends else np.zeros(0)
    app.sort()
    a0 = int(np.searchsorted(app, start, side="right"))
    s0 = int(np.searchsorted(step_t, start, side="right"))
    level = a0 - int(step[:s0].sum())  # the lag at ``start``
    app, step_t, step = app[a0:], step_t[s0:], step[s0:]
    t_out = np.empty(app.size + step_t.size + 1)
    lag_out = np.empty(t_out.size, np.int64)
    t_out[0], lag_out[0], w = start, level, 1
    # Slice boundaries fall between instants ("left" search), so ties never straddle two.
    cuts = np.append(app[chunk::chunk], np.inf)
    ia = js = 0
    for c in cuts:
        ja, je = int(np.searchsorted(app, c, "left")), int(np.searchsorted(step_t, c, "left"))
        if ja == ia and je == js:
            continue
        t = np.concatenate((app[ia:ja], step_t[js:je]))
        v = np.concatenate((np.ones(ja - ia, np.int64), -step[js:je]))
        order = np.argsort(t)
        t, lag = t[order], np.cumsum(v[order])
        lag += level
        level = int(lag[-1])
        last = np.empty(t.size, bool)  # the last of the events sharing an instant
        np.not_equal(t[1:], t[:-1], out=last[:-1])
        last[-1] = True
        k = int(last.sum())
        np.compress(last, t, out=t_out[w : w + k])
        np.compress(last, lag, out=lag_out[w : w + k])
        w += k
        ia, js = ja, je
    for arr in (t_out, lag_out):  # shrink in place (no other view of them exists)
        arr.resize(w, refcheck=False)
    return LagProfile(t_out, lag_out), per


def partition_lag(
    appends: list[np.ndarray], per: list[tuple[np.ndarray, np.ndarray]], grid: np.ndarray
) -> np.ndarray:
    """Lag per partition (rows) sampled at ``grid`` (columns)."""
    out = np.zeros((len(appends), grid.size))
    for q, (app, (t, run)) in enumerate(zip(appends, per, strict=True)):
        ends = np.searchsorted(app, grid, side="right")
        k = np.searchsorted(t, grid, side="right") - 1
        pos = np.where(k >= 0, run[np.maximum(k, 0)] if run.size else 0, 0)
        out[q] = np.where(k >= 0, ends - pos, 0)
    return out


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

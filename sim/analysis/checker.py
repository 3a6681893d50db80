"""The checker: one implementation of the delivery vocabulary, for simulator and labs alike.

Borrowed from the way Jepsen checks queues and logs. Given a :class:`~sim.core.history.History`
it counts, for every reader (a Pub/Sub subscriber or a consumer group):

- **acknowledged** -- sends the broker confirmed that this reader was expected to process;
- **processed** -- distinct acknowledged messages the reader processed at least once;
- **lost** -- acknowledged, never processed, and no longer retrievable;
- **unseen** -- acknowledged, not processed yet, but still retrievable (lag, not loss);
- **duplicated** -- distinct messages processed more than once (``extra`` counts the
  surplus processings);
- **reordered** -- messages whose first processing came after a later-published message
  of the same key had already been processed;
- **unknown** -- sends whose outcome is unknown (timeouts); never counted as lost or
  delivered.

``processed_once + duplicated + lost + unseen == acknowledged`` always holds.

The checker does not know about SimPy or brokers: it reads arrays only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from sim.core.history import OK, UNKNOWN, History, ReaderHistory

#: Columns of the checker table, in order.
COLUMNS = (
    "acknowledged",
    "processed",
    "lost",
    "unseen",
    "duplicated",
    "extra",
    "reordered",
    "unknown",
)


@dataclass(frozen=True)
class CheckRow:
    """The checker's counts for one reader, with end-to-end latency percentiles (seconds)."""

    reader: str
    acknowledged: int
    processed: int
    lost: int
    unseen: int
    duplicated: int
    extra: int
    reordered: int
    unknown: int
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float

    @property
    def processed_once(self) -> int:
        return self.processed - self.duplicated

    @property
    def loss_fraction(self) -> float:
        return self.lost / self.acknowledged if self.acknowledged else 0.0


@dataclass(frozen=True)
class CheckReport:
    """The checker's verdict on a history: one :class:`CheckRow` per reader."""

    rows: tuple[CheckRow, ...]

    def row(self, reader: str) -> CheckRow:
        for r in self.rows:
            if r.reader == reader:
                return r
        raise KeyError(f"no reader named {reader!r}; readers are {[r.reader for r in self.rows]}")

    def __getitem__(self, reader: str) -> CheckRow:
        return self.row(reader)

    def totals(self) -> dict[str, int]:
        """Counts summed over all readers (latencies are not summed)."""
        return {c: int(sum(getattr(r, c) for r in self.rows)) for c in COLUMNS}

    def as_dicts(self) -> list[dict]:
        return [asdict(r) for r in self.rows]

    def table(self) -> str:
        """A fixed-width text table; the same history always gives the same text."""
        head = ("reader", *COLUMNS, "p50 ms", "p95 ms", "p99 ms")
        body = [
            (
                r.reader,
                *(str(getattr(r, c)) for c in COLUMNS),
                *(_ms(v) for v in (r.latency_p50_s, r.latency_p95_s, r.latency_p99_s)),
            )
            for r in self.rows
        ]
        widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
        lines = [
            "  ".join(
                x.ljust(w) if i == 0 else x.rjust(w)
                for i, (x, w) in enumerate(zip(line, widths, strict=True))
            )
            for line in (head, *body)
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _ms(seconds: float) -> str:
    return "-" if np.isnan(seconds) else f"{seconds * 1000:.2f}"


def check(history: History) -> CheckReport:
    """Apply the checker to every reader of ``history``."""
    return CheckReport(tuple(check_reader(history, r) for r in history.readers))


def check_reader(history: History, reader: ReaderHistory) -> CheckRow:
    """The checker's counts for one reader of ``history``."""
    n = history.messages
    acked = history.outcome == OK
    expected = acked if reader.expected is None else (reader.expected & acked)
    del acked
    seen = np.zeros(n, bool)
    seen[reader.ids] = True
    available = np.zeros(n, bool) if reader.available is None else reader.available
    missing = expected & ~seen
    if np.count_nonzero(seen) < reader.ids.size:  # some id was processed more than once
        counts = np.bincount(reader.ids, minlength=n)
        duplicated = int((expected & (counts > 1)).sum())
        extra = int((counts[expected] - 1).clip(min=0).sum())
        # First completion of each id, in processing order.
        first_idx = _first_occurrences(reader.ids, counts)
        del counts
        first_ids, first_times = reader.ids[first_idx], reader.times[first_idx]
        del first_idx
    else:  # no repeats: no copies
        duplicated = extra = 0
        first_ids, first_times = reader.ids, reader.times
    keep = expected[first_ids]
    if keep.all():  # (no copies)
        kept_ids, kept_times = first_ids, first_times
    else:
        kept_ids, kept_times = first_ids[keep], first_times[keep]
    del keep, first_ids, first_times
    reordered = _reordered_ids(history.keys, kept_ids)

    lat = kept_times - history.publish_time[kept_ids]
    del kept_ids, kept_times
    if lat.size:  # (``lat`` is scratch: it may be partitioned in place)
        p50, p95, p99 = (float(x) for x in _percentiles(lat))
    else:
        p50 = p95 = p99 = float("nan")
    del lat
    acknowledged, n_missing = int(np.count_nonzero(expected)), int(np.count_nonzero(missing))
    unseen = int(np.count_nonzero(missing & available))
    return CheckRow(
        reader=reader.name,
        acknowledged=acknowledged,
        processed=acknowledged - n_missing,  # (expected and seen)
        lost=n_missing - unseen,  # (missing and not available)
        unseen=unseen,
        duplicated=duplicated,
        extra=extra,
        reordered=reordered,
        unknown=int(np.count_nonzero(history.outcome == UNKNOWN)),
        latency_p50_s=p50,
        latency_p95_s=p95,
        latency_p99_s=p99,
    )


#: The latency percentiles of a row.
PERCENTILES = (50, 95, 99)
#: Latencies from which the order statistics are cut from bands (see :func:`_percentiles`).
SAMPLE_FROM = 1 << 16
#: Values in the sorted sample that places the bands; values per slice of the passes.
SAMPLE, SLICE = 1 << 13, 1 << 18


def _percentiles(x: np.ndarray) -> np.ndarray:
    """``np.percentile(x, PERCENTILES)`` (linear interpolation) bit for bit; ``x`` is
    scratch. For a long ``x`` the order statistics it needs are not selected from all of
    ``x`` (:func:`_order_statistics`); should that miss one, ``x`` is partitioned."""
    n = x.size
    if n < SAMPLE_FROM or np.isnan(x.max()):
        return np.percentile(x, PERCENTILES, overwrite_input=True)
    # numpy's linear method: virtual index (n - 1) q, its floor and the next index (the
    # last value at or above n - 1), the weight the index minus its floor.
    virtual = (n - 1) * np.true_divide(np.array(PERCENTILES), 100)
    prev = np.floor(virtual)
    top = virtual >= n - 1
    prev[top] = -1
    gamma = virtual - prev
    below = np.where(top, n - 1, prev).astype(np.intp)
    above = np.where(top, n - 1, prev + 1).astype(np.intp)
    value = _order_statistics(x, np.unique(np.concatenate((below, above))))
    if value is None:
        return np.percentile(x, PERCENTILES, overwrite_input=True)
    a = np.array([value[k] for k in below.tolist()])
    b = np.array([value[k] for k in above.tolist()])
    diff = b - a
    out = a + diff * gamma
    np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5)
    return out


def _order_statistics(x: np.ndarray, ks: np.ndarray) -> dict | None:
    """The ``k``-th smallest value of ``x`` (no NaN) for every ``k`` of ``ks`` (sorted), or
    None if the sample misplaced one.

    A sorted sample (every ``n // SAMPLE``-th value) places each in a band of values, ~4
    standard errors wide; close bands are merged. Passes over ``x``, a slice at a time,
    count the values below each band, at its lowest value, at its highest and between, and
    cut out the values between (a few percent of ``x``): a partition of those selects what
    the counts do not settle. (A band's end is often one of a run of ties, as the latency
    of every message that did not queue: counted, never cut.)"""
    n = x.size
    sample = np.sort(x[:: max(1, n // SAMPLE)])
    m = sample.size
    at = ks * (m / n)  # where each lands in the sample
    margin = 4 * np.sqrt(m * (ks / n) * (1 - ks / n)) + 4
    lo = np.floor(at - margin).astype(np.intp)
    hi = np.ceil(at + margin).astype(np.intp)
    lo = np.minimum.accumulate(lo[::-1])[::-1]  # (widened to be in order)
    hi = np.maximum.accumulate(hi)
    lows = np.where(lo > 0, sample[lo.clip(0, m - 1)], -np.inf)
    highs = np.where(hi < m - 1, sample[hi.clip(0, m - 1)], np.inf)
    bands = [[lows[0], highs[0], 0, 1]]  # values from, to; its first k, the k after its last
    for j in range(1, ks.size):
        if lows[j] <= bands[-1][1] or lo[j] <= hi[j - 1] + m // 16:
            bands[-1][1], bands[-1][3] = highs[j], j + 1
        else:
            bands.append([lows[j], highs[j], j, j + 1])
    under, at_low, inside, at_high = (np.zeros(len(bands), np.int64) for _ in range(4))
    pieces, gt, lt = [], np.empty(min(n, SLICE), bool), np.empty(min(n, SLICE), bool)
    for i in range(0, n, SLICE):
        xs = x[i : i + SLICE]
        g, t, union = gt[: xs.size], lt[: xs.size], np.zeros(xs.size, bool)
        for b, (v_lo, v_hi, _, _) in enumerate(bands):
            reach = np.count_nonzero(np.greater_equal(xs, v_lo, out=g))
            under[b] += xs.size - reach
            at_low[b] += reach - np.count_nonzero(np.greater(xs, v_lo, out=g))
            upto = np.count_nonzero(np.less_equal(xs, v_hi, out=t))
            at_high[b] += upto - np.count_nonzero(np.less(xs, v_hi, out=t))
            g &= t
            inside[b] += np.count_nonzero(g)
            union |= g
        pieces.append(xs[union])
    value, where, offset = {}, {}, 0  # where: an order statistic's rank among the cut values
    for b, (v_lo, v_hi, j, end) in enumerate(bands):
        n_low, n_mid = int(at_low[b]), int(inside[b])
        n_high = int(at_high[b]) if v_hi > v_lo else 0  # (one value: all counted at_low)
        for k in ks[j:end].tolist():
            r = k - int(under[b])
            if r < 0 or r >= n_low + n_mid + n_high:
                return None
            if r < n_low:
                value[k] = float(v_lo)
            elif r >= n_low + n_mid:
                value[k] = float(v_hi)
            else:
                where[k] = offset + r - n_low
        offset += n_mid
    if where:
        cut = np.concatenate(pieces)
        rank = np.array(list(where.values()))
        cut.partition(rank)
        value.update(zip(where, cut[rank].tolist(), strict=True))
    return value


def _first_occurrences(ids: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of each distinct id, in their original order.

    ``counts`` is ``bincount(ids)``. One linear pass marks each id's first index (ids are
    small non-negative integers, so no sort is needed).
    """
    first = np.full(counts.size, ids.size, np.int64)
    np.minimum.at(first, ids, np.arange(ids.size))
    mark = np.zeros(ids.size, bool)
    mark[first[counts > 0]] = True
    return np.flatnonzero(mark)


def _reordered_ids(keys: np.ndarray, ids: np.ndarray) -> int:
    """:func:`_reordered` of the processings ``ids`` (in processing order) with their
    ``keys`` looked up (``keys``: per message) only when the ids are out of order."""
    if ids.size < 2 or bool((ids[1:] > ids[:-1]).all()):
        return 0  # processed in publish order: nothing can be out of order
    return _reordered(keys[ids], ids, scratch=True)


def _reordered(keys: np.ndarray, ids: np.ndarray, scratch: bool = False) -> int:
    """Count processings that come after a later-published message of the same key.

    ``ids`` are in processing order; message ids are in publish order. Null keys (-1) carry
    no order promise and are skipped. ``scratch``: ``keys`` may be overwritten.
    """
    if keys.size and keys.min() < 0:
        mask = keys >= 0
        keys, ids, scratch = keys[mask], ids[mask], True
    if ids.size < 2 or bool((ids[1:] > ids[:-1]).all()):
        return 0  # processed in publish order: nothing can be out of order
    # Group by key, processing order kept within a key: sort (key, position) pairs packed
    # into one integer -- a plain sort of distinct values, far cheaper than a stable argsort.
    n = ids.size
    bits = n.bit_length()  # position in the low bits: shifts and masks, no divisions
    id_bits = int(ids.max()).bit_length()
    if int(keys.max()) < (1 << (62 - max(bits, id_bits))):
        packed = keys if scratch and keys.dtype == np.int64 else keys.astype(np.int64)
        packed <<= bits
        for lo in range(0, n, 1 << 20):  # (+ position, without an n-long arange)
            packed[lo : lo + (1 << 20)] += np.arange(lo, min(lo + (1 << 20), n))
        packed.sort()
        i = ids[packed & ((1 << bits) - 1)]
        # (key, id) packed the same way: a running maximum never crosses into a later key,
        # and the first processing of a key never reads above an earlier key's maximum.
        packed >>= bits
        packed <<= id_bits
        packed += i
        del i
        running = np.maximum.accumulate(packed)
        return int(np.count_nonzero(running[:-1] > packed[1:]))
    # Keys too large to pack: the general stable sort.
    order = np.argsort(keys, kind="stable")
    k, i = keys[order], ids[order]
    del order, keys
    starts = np.empty(n, bool)
    starts[0] = True
    np.not_equal(k[1:], k[:-1], out=starts[1:])
    del k
    # Running maximum of ids within each key group: offset every group so that a plain
    # cumulative maximum never crosses a group boundary.
    shifted = np.cumsum(starts)
    shifted *= int(i.max()) + 1
    shifted += i
    del i
    running = np.maximum.accumulate(shifted)
    return int((running[:-1] > shifted[1:])[~starts[1:]].sum())

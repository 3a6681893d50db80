"""The array tricks of the checker, the lag profile and the key draws against plain
loops and searches."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analysis import checker, metrics
from sim.analysis.checker import PERCENTILES, _first_occurrences, _percentiles, _reordered
from sim.analysis.metrics import LagProfile, lag_profile
from sim.core.workload import inverse_cdf, zipf_weights


def _reordered_loop(keys, ids):
    best, count = {}, 0
    for k, i in zip(keys.tolist(), ids.tolist(), strict=True):
        if k < 0:
            continue
        if k in best and best[k] > i:
            count += 1
        best[k] = max(best.get(k, -1), i)
    return count


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(-1, 5), st.integers(0, 40)), max_size=60),
    st.booleans(),
    st.booleans(),
)
def test_reordered_equals_a_loop(pairs, huge_keys, wide_ids):
    keys = np.array([k for k, _ in pairs], np.int64)
    ids = np.array([i for _, i in pairs], np.int64)
    if huge_keys:  # too large to pack with the position: the stable-sort branch
        keys = np.where(keys >= 0, keys + (1 << 61), keys)
    if wide_ids:  # ids wider than the positions: (key, id) packed with the ids' width
        ids += 1 << 40
    assert _reordered(keys, ids) == _reordered_loop(keys, ids)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=60))
def test_first_occurrences_equal_a_loop(values):
    ids = np.array(values, np.int64)
    counts = np.bincount(ids, minlength=31)
    seen, expected = set(), []
    for j, i in enumerate(values):
        if i not in seen:
            seen.add(i)
            expected.append(j)
    np.testing.assert_array_equal(_first_occurrences(ids, counts), expected)


def _assert_percentiles_equal_numpy(x: np.ndarray, sample: int) -> None:
    """The band selection on ``x`` of any length, with a sample of ``sample`` values."""
    want = np.percentile(x, PERCENTILES)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(checker, "SAMPLE_FROM", 1)
        mp.setattr(checker, "SAMPLE", sample)
        got = _percentiles(x.copy())
    np.testing.assert_array_equal(got, want)
    assert got.dtype == want.dtype


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(-3, 40), min_size=1, max_size=300),
    st.sampled_from([1, 4, 1000]),
    st.integers(1, 64),
    st.sampled_from([None, np.inf, -np.inf, np.nan]),
)
def test_percentiles_equal_numpy(values, scale, sample, special):
    """Bit for bit, with ties, infinities and NaN, whether the bands found every order
    statistic or one was missed (a sample of a few values misses often)."""
    x = np.array(values, float) / scale
    if special is not None:
        x[len(values) // 2] = special
    _assert_percentiles_equal_numpy(x, sample)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 30_000),
    st.sampled_from(["ties", "normal", "sorted", "periodic", "skewed"]),
    st.sampled_from([8, 64, 512, 4096]),
    st.integers(0, 2**32 - 1),
)
def test_percentiles_of_long_arrays_equal_numpy(n, kind, sample, seed):
    """Several bands, and arrays that fool the strided sample (sorted runs as long as the
    stride, a rare value at every stride) into missing order statistics above or below."""
    rng = np.random.default_rng(seed)
    stride = max(1, n // sample)
    x = {
        "ties": lambda: rng.integers(0, 9, n) / 8,
        "normal": lambda: rng.standard_normal(n),
        "sorted": lambda: np.sort(rng.exponential(size=n)),
        "periodic": lambda: np.resize(np.arange(stride, dtype=float)[:: rng.choice([1, -1])], n),
        "skewed": lambda: np.where(np.arange(n) % stride == 0, 100.0, rng.random(n)),
    }[kind]()
    _assert_percentiles_equal_numpy(x, sample)


def _lag_loop(appends, ev, start, when):
    """Lag at ``when`` straight from the definition: appended by then minus positions."""
    pos = {}
    for t, p, v in sorted(ev, key=lambda e: e[0]):
        if t <= when:
            pos[p] = max(pos.get(p, 0), v)
    appended = sum(int(np.searchsorted(a, when, side="right")) for a in appends)
    return appended - sum(pos.values())


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(0, 40), max_size=12).map(lambda xs: sorted(x / 4 for x in xs)),
        min_size=1,
        max_size=3,
    ),
    st.lists(st.tuples(st.integers(1, 40), st.integers(0, 2), st.integers(0, 12)), max_size=25),
    st.lists(st.integers(0, 4), min_size=3, max_size=3),
    st.integers(1, 6),
    st.integers(0, 44),
    st.booleans(),
)
def test_lag_profile_equals_the_definition(raw_appends, raw_updates, raw_init, chunk, after, wide):
    appends = [np.array(a, float) for a in raw_appends]
    if wide:  # many partitions (most of them empty): the partitions found by a sort
        appends += [np.zeros(0)] * 70
    P = len(appends)
    init = [min(raw_init[p % 3], appends[p].size) for p in range(P)]
    updates = [(t / 4, p % P, min(v, appends[p % P].size)) for t, p, v in raw_updates]
    ev = [(0.0, p, init[p]) for p in range(P)] + updates
    ev_t = np.array([e[0] for e in ev], float)
    ev_p = np.array([e[1] for e in ev], np.int64)
    ev_v = np.array([e[2] for e in ev], np.int64)
    grid = np.arange(0, 44) / 4 + 0.1
    events = sorted({0.0, *(x for a in appends for x in a), *(e[0] for e in ev)})
    at_events = [_lag_loop(appends, ev, 0.0, t) for t in events]
    merged = LagProfile(np.array(events), np.array(at_events))
    for with_init in (False, True):  # the start positions among the updates, or apart
        if with_init:
            args, kw = (ev_t[P:], ev_p[P:], ev_v[P:]), {"init": np.array(init)}
        else:
            args, kw = (ev_t, ev_p, ev_v), {}
        with pytest.MonkeyPatch.context() as mp:  # partitions found by scans, or a sort
            mp.setattr(metrics, "SCAN_FROM", 0 if with_init else 1 << 22)
            prof, by_part = lag_profile(appends, *args, 0.0, grid, chunk=chunk, **kw)
        want = [_lag_loop(appends, ev, 0.0, g) for g in grid]
        np.testing.assert_array_equal(prof.at(grid), want)
        assert prof.peak == max(at_events)
        assert prof.peak_time == events[int(np.argmax(at_events))]
        # First passages below a threshold, against the merged step function of the events.
        for thr in (None, 0, 1, 3):
            assert _same(prof.first_below(after / 4, thr), merged.first_below(after / 4, thr))
        assert _same(prof.catch_up_s(), merged.catch_up_s())
        for q in range(P):  # every partition's lag at the grid: appended minus its position
            for g, got in zip(grid, by_part[q], strict=True):
                pos = [v for t, p, v in ev if p == q and t <= g]
                assert got == int(np.searchsorted(appends[q], g, side="right")) - max(pos)


def _same(x: float, y: float) -> bool:
    return x == y or (np.isnan(x) and np.isnan(y))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3000), st.floats(0.0, 5.0), st.integers(0, 2**32 - 1))
def test_key_draws_equal_a_binary_search(keys, s, seed):
    cdf = np.cumsum(zipf_weights(keys, s))
    cdf[-1] = 1.0
    rng = np.random.default_rng(seed)
    edges = np.arange(1 << 12) / (1 << 12)  # bucket starts of any table up to 2**12 buckets
    points = cdf[cdf < 1]
    u = np.concatenate(
        (rng.random(64 * keys + 1000), edges, points, np.nextafter(points, 0), [0.0])
    )
    u = np.concatenate((u, [np.nextafter(1.0, 0)]))
    np.testing.assert_array_equal(inverse_cdf(cdf, u), np.searchsorted(cdf, u, side="right"))

"""The client-side cache model against its theory (no brokers), in both tracking modes.

Theory (:func:`sim.models.client_cache.expected_stale_reads`): without the flush a read at
``t`` after the connection dropped is stale with probability ``1 - exp(-lam t)``. The model's
mean over 400 seeds must be within 4 standard errors of it (the standard error measured
from the same runs: about 0.8 stale reads at the defaults, so the band is about +-3 of 123);
the same for the keys updated during the outage, ``keys (1 - exp(-lam d))``. With the flush
no read is ever stale, on every seed.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.models import client_cache as cc

SEEDS = range(400)


def _mean_and_se(values) -> tuple[float, float]:
    v = np.asarray(values, float)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size))


@pytest.mark.parametrize(
    "scenario",
    [
        cc.CacheScenario(),
        cc.CacheScenario(keys=20, updates_per_s=4.0, down_s=0.5, reads_per_s=50.0, read_for_s=3),
        cc.CacheScenario(tracking="bcast"),
        cc.CacheScenario(keys=20, updates_per_s=4.0, down_s=2.0, read_for_s=3, tracking="bcast"),
    ],
)
def test_stale_reads_without_the_flush_match_the_theory_within_four_standard_errors(scenario):
    runs = [cc.simulate(scenario, seed) for seed in SEEDS]
    mean, se = _mean_and_se([r["without_flush"].stale_reads for r in runs])
    assert abs(mean - cc.expected_stale_reads(scenario)) <= 4 * se, (mean, se)
    mean, se = _mean_and_se([r["without_flush"].keys_updated_while_down for r in runs])
    assert abs(mean - cc.expected_keys_updated_while_down(scenario)) <= 4 * se, (mean, se)


def test_with_the_flush_no_read_is_ever_stale_and_changes_are_invalidated():
    for seed in range(50):
        runs = cc.simulate(cc.CacheScenario(), seed)
        assert runs["with_flush"].stale_reads == 0
        assert runs["with_flush"].invalidations_after_reconnect > 0
        # The kept cache is never told about a change again: its keys are not tracked.
        assert runs["without_flush"].invalidations_after_reconnect == 0
        assert runs["without_flush"].cache_hits == runs["without_flush"].reads


def test_a_change_during_the_outage_is_stale_until_the_flush():
    U, R, C = cc.UPDATE, cc.READ, cc.RECONNECT
    # Key 0 changes while away, key 1 after the reconnect, key 0 again after being read.
    ops = cc.Ops(
        kind=np.array([U, C, R, U, R, U, R, R]),
        key=np.array([0, -1, 0, 1, 1, 0, 0, 1]),
        t=np.arange(8.0),
    )
    kept = cc.replay(ops, flush=False, keys=2)
    # Every read is a hit on a copy from before the outage, and every one is stale.
    assert (kept.stale_reads, kept.cache_hits, kept.keys_updated_while_down) == (4, 4, 1)
    assert kept.invalidations_after_reconnect == 0
    flushed = cc.replay(ops, flush=True, keys=2)
    # Misses on the first reads of 0 and 1; key 0, read on the new connection, is
    # invalidated by its second change (a miss again); key 1 then hits, fresh.
    assert (flushed.stale_reads, flushed.cache_hits, flushed.invalidations_after_reconnect) == (
        0,
        1,
        1,
    )


def test_a_longer_outage_gives_more_stale_reads():
    # Direction of change: more time away, more keys changed unseen.
    short = cc.expected_stale_reads(cc.CacheScenario(down_s=0.2))
    long = cc.expected_stale_reads(cc.CacheScenario(down_s=5.0))
    assert long > short > 0
    sim_short = np.mean(
        [
            cc.simulate(cc.CacheScenario(down_s=0.2), s)["without_flush"].stale_reads
            for s in range(50)
        ]
    )
    sim_long = np.mean(
        [
            cc.simulate(cc.CacheScenario(down_s=5.0), s)["without_flush"].stale_reads
            for s in range(50)
        ]
    )
    assert sim_long > sim_short


def test_the_same_seed_draws_the_same_operations():
    a, b = cc.draw_ops(cc.CacheScenario(), 7), cc.draw_ops(cc.CacheScenario(), 7)
    assert np.array_equal(a.kind, b.kind) and np.array_equal(a.key, b.key)
    assert np.array_equal(a.t, b.t)
    c = cc.draw_ops(cc.CacheScenario(), 8)
    assert not (len(c) == len(a) and np.array_equal(c.key, a.key))


@pytest.mark.parametrize(
    ("field", "value"), [("keys", 0), ("updates_per_s", -1.0), ("down_s", 1e5)]
)
def test_bad_input_names_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        cc.CacheScenario(**{field: value})


def test_bcast_is_stale_only_until_the_next_change_so_never_more_than_default():
    # Same operations: a BCAST stale read is a key changed while away and not since the
    # reconnect -- in the default mode that read is stale too (its key changed since 0).
    for seed in range(50):
        ops = cc.draw_ops(cc.CacheScenario(), seed)
        default = cc.replay(ops, flush=False, keys=100)
        bcast = cc.replay(ops, flush=False, keys=100, bcast=True)
        assert 0 < bcast.stale_reads <= default.stale_reads
        assert bcast.invalidations_after_reconnect == int(
            ((ops.kind == cc.UPDATE) & (ops.t > cc.CacheScenario().down_s)).sum()
        )
        assert cc.replay(ops, flush=True, keys=100, bcast=True).stale_reads == 0

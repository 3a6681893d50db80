"""Speed never changes an answer: on the standard benchmark scenario (``sim.bench``), made
small, the fast path gives the same checker results as the per-message reference run.

The standard scenario: Poisson 5,000 msg/s, Zipf keys, 12 partitions, 2 groups of 4
consumers (commit after processing), 3 Pub/Sub subscribers; subscriber 0 and consumer 0
of group 0 are down from 20% of the window for ``down_s`` seconds.
"""

from functools import cache

import numpy as np
import pytest

import sim
from sim.analysis.checker import COLUMNS
from sim.bench import standard
from sim.reference import run_reference

SEEDS = (0, 1, 2, 3, 4)

#: Session timeout and rebalance pause short enough for the crash to be noticed within a
#: 0.3 s outage. Off the 0.25 ms service grid on purpose: with round values a member busy
#: since a rebalance ends finishes a record exactly at the next control instant, a tie
#: that floating-point rounding (not the model) decides.
DETECT = {
    "consumers.groups.0.session_timeout_ms": 100.0,
    "consumers.groups.0.rebalance_ms": 37.3,
}

CASES = {
    "3000 msgs, 0.1 s down": lambda: standard(3000, 0.1),
    "5000 msgs, 0.3 s down": lambda: standard(5000, 0.3),
    "5000 msgs, 0.3 s down, crash noticed": lambda: standard(5000, 0.3).with_changes(**DETECT),
    "3000 msgs, 0.1 s down, commit before": lambda: standard(3000, 0.1).with_changes(
        **{"consumers.groups.0.commit": "before"}
    ),
}


@cache
def runs(case: str, seed: int):
    """(fast result, reference history, reference counters) of one case and seed."""
    sc = CASES[case]()
    stats: dict = {}
    ref = run_reference(sc, seed=seed, stats=stats)
    return sim.run(sc, seed=seed), ref, stats


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", list(CASES))
def test_standard_scenario_fast_path_equals_per_message_run(case, seed):
    fast, ref, stats = runs(case, seed)
    mine, theirs = fast.report, sim.check(ref)
    assert [r.reader for r in mine.rows] == [r.reader for r in theirs.rows]
    assert {"subscriber:0", "group:0", "group:1"} <= {r.reader for r in mine.rows}
    for f, r in zip(mine.rows, theirs.rows, strict=True):
        assert [getattr(f, c) for c in COLUMNS] == [getattr(r, c) for c in COLUMNS], f.reader
        for c in ("latency_p50_s", "latency_p95_s", "latency_p99_s"):
            assert getattr(f, c) == pytest.approx(getattr(r, c), rel=0, abs=1e-9), (f.reader, c)
    for r in ref.readers:
        f = fast.history.reader(r.name)
        # (id, time) order: members in lockstep may finish a rounding error apart.
        fo, ro = np.lexsort((f.times, f.ids)), np.lexsort((r.times, r.ids))
        np.testing.assert_array_equal(f.ids[fo], r.ids[ro], err_msg=r.name)
        np.testing.assert_allclose(f.times[fo], r.times[ro], rtol=0, atol=1e-9, err_msg=r.name)
    for key, value in stats.items():
        assert fast.metrics[key] == value, key


def test_the_cases_exercise_the_faults():
    """The comparison above is only worth something if the faults did something."""
    redelivered = skipped = 0
    for case in CASES:
        for seed in SEEDS:
            fast, _, stats = runs(case, seed)
            rep = fast.report
            assert rep["subscriber:0"].lost > 0  # published while it was down
            assert rep["subscriber:1"].lost == 0
            # consumer 0's partitions waited for its restart: group 0 lags group 1
            assert rep["group:0"].latency_p99_s > rep["group:1"].latency_p99_s + 0.05
            assert rep["group:1"].duplicated == rep["group:1"].lost == 0
            noticed = "noticed" in case
            assert stats["rebalances:group:0"] == (2 if noticed else 1)  # (detect +) rejoin
            assert stats["rebalances:group:1"] == 0
            redelivered += stats["redelivered:group:0"] > 0 and rep["group:0"].duplicated > 0
            skipped += stats["skipped:group:0"] > 0 and rep["group:0"].lost > 0
            if "before" in case:
                assert rep["group:0"].duplicated == 0
            else:
                assert rep["group:0"].lost == 0
    assert redelivered >= 1  # commit after: a crash inside a poll batch processed again
    assert skipped >= 3  # commit before: the rest of the polled batch is lost
    # Noticing the crash hands its partitions over before it restarts: lower latency.
    for seed in SEEDS:
        slow = runs("5000 msgs, 0.3 s down", seed)[0].report["group:0"].latency_p99_s
        fast = runs("5000 msgs, 0.3 s down, crash noticed", seed)[0].report["group:0"]
        assert fast.latency_p99_s < slow

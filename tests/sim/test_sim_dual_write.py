"""Theory tests of the dual-write model: the simulated counts agree with the binomial means,
and the outbox loses and invents nothing whatever the crashes."""

from __future__ import annotations

import numpy as np
import pytest

from sim.models.dual_write import expected, simulate

REPLICATIONS = 400


@pytest.mark.parametrize(("p", "q"), [(0.2, 0.5), (0.05, 0.9), (0.5, 0.1)])
def test_mean_lost_and_invented_match_theory_within_four_standard_errors(p, q):
    n = 200
    dual, _ = expected(n, p, after_commit_share=q)
    runs = [simulate(n, p, seed, after_commit_share=q)[0] for seed in range(REPLICATIONS)]
    for field, prob in (("lost", p * q), ("invented", p * (1 - q))):
        got = np.mean([getattr(r, field) for r in runs])
        se = np.sqrt(n * prob * (1 - prob) / REPLICATIONS)  # binomial standard error
        assert abs(got - getattr(dual, field)) <= 4 * se, (field, got, getattr(dual, field))


def test_the_outbox_loses_and_invents_nothing_and_dedupe_removes_the_relays_repeats():
    for seed in range(50):
        dual, outbox = simulate(100, 0.3, seed, relay_crashes=2, relay_batch=10)
        assert (outbox.lost, outbox.invented, outbox.duplicated_after_dedupe) == (0, 0, 0)
        assert outbox.committed == dual.committed == 100 - dual.invented
        assert 0 < outbox.duplicated <= 2 * 10


def test_no_crash_no_harm_and_more_crashes_more_harm():
    dual, _ = simulate(100, 0.0, seed=1)
    assert (dual.lost, dual.invented) == (0, 0)
    low = expected(100, 0.1)[0]
    high = expected(100, 0.4)[0]
    assert high.lost > low.lost and high.invented > low.invented


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="crash_probability"):
        expected(100, 1.5)
    with pytest.raises(ValueError, match="requests"):
        simulate(0, 0.1, seed=0)

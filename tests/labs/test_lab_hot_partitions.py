"""Hot partitions lab: Zipf keys skew the partitions; uniform keys do not; salting helps."""

from __future__ import annotations

import numpy as np
import pytest

from labs.hot_partitions import run_hot_partitions
from labs.lessons import check

pytestmark = pytest.mark.brokers


@pytest.fixture(scope="module")
def zipf():
    return run_hot_partitions(key_distribution="zipf")


@pytest.fixture(scope="module")
def uniform():
    return run_hot_partitions(key_distribution="uniform")


def test_zipf_keys_make_a_hot_partition(zipf):
    # The lesson (labs.lessons): skew > 2, counts as murmur2 predicts, nothing lost or
    # reordered, the hottest partition builds the lag its share * rate - 400 msg/s predicts.
    assert check("hot_partitions", zipf) == []


def test_uniform_keys_spread_evenly(uniform):
    assert check("hot_partitions", uniform) == []  # skew < 1.3, counts as murmur2 predicts


def sustained_lag(result, partition: int) -> float:
    """The partition's lag, time-weighted median over the second half of the publish window:
    a lag that keeps growing shows in it, a short stall of one worker (a thread descheduled
    for a few hundred ms on a busy machine, then draining) does not."""
    s = result.series[f"lag:partition:{partition}"]
    window = result.params["window_s"]
    grid = np.linspace(window / 2, window, 200)
    at = np.searchsorted(s.t, grid, side="right") - 1
    return float(np.median(np.where(at >= 0, s.value[np.clip(at, 0, None)], 0.0)))


def test_hot_partition_builds_lag(zipf, uniform):
    m = zipf.metrics
    hot = max(range(6), key=lambda p: m[f"messages:partition:{p}"])
    # Uniform keys: every partition below its worker's rate, so no partition keeps a lag.
    uniform_lag = max(sustained_lag(uniform, p) for p in range(6))
    hot_lag = sustained_lag(zipf, hot)
    assert hot_lag > 50, f"the hot partition kept only {hot_lag:g} messages of lag"
    assert uniform_lag < 0.25 * hot_lag, (uniform_lag, hot_lag)


def test_salting_spreads_the_hot_key_and_breaks_per_key_order(zipf):
    salted = run_hot_partitions(key_distribution="zipf", salt_buckets=4)
    assert check("hot_partitions", salted) == []
    assert salted.metrics["partition_skew"] < zipf.metrics["partition_skew"]
    assert zipf.report["group:0"].reordered == 0
    assert salted.report["group:0"].reordered > 0

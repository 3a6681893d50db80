"""Hot partitions lab: Zipf keys skew the partitions; uniform keys do not; salting helps."""

from __future__ import annotations

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


def test_hot_partition_builds_lag(zipf, uniform):
    m = zipf.metrics
    hot = max(range(6), key=lambda p: m[f"messages:partition:{p}"])
    # Uniform keys: every partition below its worker's rate, so no partition builds lag.
    uniform_peak = max(uniform.metrics[f"peak_lag:partition:{p}"] for p in range(6))
    assert uniform_peak < 0.25 * m[f"peak_lag:partition:{hot}"]


def test_salting_spreads_the_hot_key_and_breaks_per_key_order(zipf):
    salted = run_hot_partitions(key_distribution="zipf", salt_buckets=4)
    assert check("hot_partitions", salted) == []
    assert salted.metrics["partition_skew"] < zipf.metrics["partition_skew"]
    assert zipf.report["group:0"].reordered == 0
    assert salted.report["group:0"].reordered > 0

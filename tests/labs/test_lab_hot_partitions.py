"""Hot partitions lab: Zipf keys skew the partitions; uniform keys do not; salting helps."""

from __future__ import annotations

import pytest

from labs.hot_partitions import run_hot_partitions

pytestmark = pytest.mark.brokers


@pytest.fixture(scope="module")
def zipf():
    return run_hot_partitions(key_distribution="zipf")


@pytest.fixture(scope="module")
def uniform():
    return run_hot_partitions(key_distribution="uniform")


def test_zipf_keys_make_a_hot_partition(zipf):
    assert zipf.metrics["partition_skew"] > 2
    # Counts read back from Kafka equal what murmur2 predicts for the key sequence.
    assert zipf.metrics["partitions_match_murmur2"] == 1.0
    row = zipf.report["group:0"]
    assert (row.lost, row.unseen, row.duplicated, row.reordered) == (0, 0, 0, 0)


def test_uniform_keys_spread_evenly(uniform):
    assert uniform.metrics["partition_skew"] < 1.3
    assert uniform.metrics["partitions_match_murmur2"] == 1.0


def test_hot_partition_builds_lag(zipf, uniform):
    m = zipf.metrics
    hot = max(range(6), key=lambda p: m[f"messages:partition:{p}"])
    # The hottest partition gets share * rate, more than the 400 msg/s its worker manages:
    # its lag grows at the difference while the producer sends (nominally 1500 msg/s for
    # 2 s; the actual rate and duration are used). Allow 30% for start-up and jitter.
    sent = zipf.history.publish_time
    rate = sent.size / sent[-1]
    theory = (m["hottest_partition_share"] * rate - 400) * sent[-1]
    assert theory > 150, f"the producer managed only {rate:.0f} msg/s"
    assert m[f"peak_lag:partition:{hot}"] >= 0.7 * theory
    assert m[f"peak_lag:partition:{hot}"] == max(m[f"peak_lag:partition:{p}"] for p in range(6))
    # Uniform keys: every partition below its worker's rate, so no partition builds lag.
    uniform_peak = max(uniform.metrics[f"peak_lag:partition:{p}"] for p in range(6))
    assert uniform_peak < 0.25 * m[f"peak_lag:partition:{hot}"]


def test_salting_spreads_the_hot_key_and_breaks_per_key_order(zipf):
    salted = run_hot_partitions(key_distribution="zipf", salt_buckets=4)
    assert salted.metrics["partition_skew"] < zipf.metrics["partition_skew"]
    assert salted.metrics["partitions_match_murmur2"] == 1.0
    assert zipf.report["group:0"].reordered == 0
    assert salted.report["group:0"].reordered > 0

"""Ordering lab: per-key order holds, global order does not, a rebalance redelivers."""

from __future__ import annotations

import pytest

from labs.ordering import run_ordering

pytestmark = pytest.mark.brokers


def test_stable_key_keeps_per_key_order_but_not_global_order():
    result = run_ordering()
    stable = result.report["group:stable-key"]
    assert stable.reordered == 0
    assert stable.processed == stable.acknowledged == 600
    assert result.metrics["global_inversions:group:stable-key"] > 0
    reb = result.report["group:rebalance"]
    assert result.metrics["rebalances:group:rebalance"] >= 1
    assert result.metrics["processed_by_b:group:rebalance"] > 0
    assert (reb.lost, reb.unseen, reb.reordered) == (0, 0, 0)
    # What A had processed past its last commit on the partitions it lost is read again.
    assert reb.duplicated == result.metrics["uncommitted_at_revoke:group:rebalance"]


def test_commit_on_revoke_avoids_duplicates():
    result = run_ordering(commit_on_revoke=True, seed=1)
    reb = result.report["group:rebalance"]
    assert reb.duplicated == 0
    assert result.metrics["key_regressions:group:rebalance"] == 0
    assert (reb.lost, reb.reordered) == (0, 0)


def test_one_partition_keeps_global_order():
    result = run_ordering(partitions=1, messages=200, rebalance_at_s=0.2)
    assert result.metrics["global_inversions:group:stable-key"] == 0

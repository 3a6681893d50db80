"""Ordering lab: per-key order holds, global order does not, a rebalance redelivers."""

from __future__ import annotations

import pytest

from labs.lessons import check
from labs.ordering import run_ordering

pytestmark = pytest.mark.brokers


def test_stable_key_keeps_per_key_order_but_not_global_order():
    result = run_ordering()
    # The lesson (labs.lessons): per-key order holds, global order does not, a rebalance
    # moves partitions to B, redelivering exactly what A had not committed.
    assert check("ordering", result) == []
    assert result.report["group:stable-key"].processed == 600


def test_commit_on_revoke_avoids_duplicates():
    result = run_ordering(commit_on_revoke=True, seed=1)
    assert check("ordering", result) == []  # no duplicates, no key going back in time


def test_one_partition_keeps_global_order():
    result = run_ordering(partitions=1, messages=200, rebalance_at_s=0.2)
    assert check("ordering", result) == []  # one partition: global order holds


def test_a_late_joiner_still_gets_work():
    # B joins at 1.9 s; at 300 msg/s A would have read all 600 by 2 s, and B's join takes
    # longer than the 0.1 s left. A holds at three quarters (labs.ordering.HOLD_AT), polling
    # but paused, until B has its partitions: the rebalance lands while A is busy, as the
    # lesson needs, however slowly a loaded machine lets B join. (On a loaded machine A may
    # itself be slower than 300 msg/s and not reach the hold before B joins: then it does
    # not hold, and B still gets work -- which is what this test asks.)
    result = run_ordering(rebalance_at_s=1.9, seed=2)
    m = result.metrics
    assert m["processed_by_b:group:rebalance"] > 0, m
    assert m["processed_by_a:group:rebalance"] < 600, m
    assert check("ordering", result) == []

"""Outbox lab: the dual write loses and invents events; the outbox loses and duplicates none."""

from __future__ import annotations

import pytest

from labs.lessons import check
from labs.outbox import AFTER_COMMIT, BEFORE_COMMIT, crash_plan, run_outbox

pytestmark = pytest.mark.brokers


def test_the_dual_write_loses_or_invents_and_the_outbox_does_neither():
    result = run_outbox()
    assert check("outbox", result) == []
    m, r = result.metrics, result.report
    assert m["crashes"] == 20
    assert r["consumer:dual-write"].lost == m["crashes_after_commit"]
    assert m["invented:consumer:dual-write"] == m["crashes_before_commit"]
    assert r["consumer:dual-write"].lost + m["invented:consumer:dual-write"] == 20
    assert r["consumer:outbox"].duplicated == m["relay_republished"] == 2 * 10
    row = r["consumer:outbox-deduped"]
    assert (row.lost, row.duplicated) == (0, 0)
    assert row.processed == m["orders_committed:outbox"] == 100 - m["crashes_before_commit"]


def test_without_crashes_both_designs_deliver_every_order_once():
    result = run_outbox(requests=30, crash_fraction=0.0, relay_crashes=0, seed=4)
    assert check("outbox", result) == []
    for reader in ("consumer:dual-write", "consumer:outbox"):
        row = result.report[reader]
        assert (row.processed, row.lost, row.duplicated) == (30, 0, 0)


def test_the_crash_plan_is_drawn_from_the_seed():
    plan = crash_plan(100, 0.3, seed=7)
    assert ((plan == BEFORE_COMMIT) | (plan == AFTER_COMMIT)).sum() == 30
    assert (plan == crash_plan(100, 0.3, seed=7)).all()
    assert (plan != crash_plan(100, 0.3, seed=8)).any()


def test_more_relay_crashes_than_batches_is_refused():
    with pytest.raises(ValueError, match="relay_crashes"):
        run_outbox(requests=10, crash_fraction=0.0, relay_batch=10, relay_crashes=2)

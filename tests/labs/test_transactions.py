"""Transactions lab: read_committed never sees an aborted record; read_uncommitted does."""

from __future__ import annotations

import pytest

from labs.lessons import check
from labs.transactions import aborted_transactions, run_transactions

pytestmark = pytest.mark.brokers


def test_read_committed_hides_aborted_transactions_and_read_uncommitted_shows_them():
    result = run_transactions()
    assert check("transactions", result) == []
    m = result.metrics
    assert m["records_committed"] == 70 and m["records_aborted"] == 30
    assert result.report["consumer:read_committed"].processed == 70
    assert result.report["consumer:read_uncommitted"].processed == 100
    assert m["aborted_seen:consumer:read_committed"] == 0
    assert m["aborted_seen:consumer:read_uncommitted"] == 30


def test_one_partition_one_marker_per_transaction():
    result = run_transactions(transactions=4, records_per_transaction=3, aborted=4, partitions=1)
    assert check("transactions", result) == []
    assert result.metrics["control_records"] == 4
    assert result.report["consumer:read_committed"].processed == 0
    assert result.metrics["aborted_seen:consumer:read_uncommitted"] == 12


def test_which_transactions_abort_depends_on_the_seed_only():
    a = aborted_transactions(10, 3, seed=5)
    assert a.sum() == 3 and (a == aborted_transactions(10, 3, seed=5)).all()


def test_more_aborted_than_transactions_is_refused():
    with pytest.raises(ValueError, match='"aborted"'):
        run_transactions(transactions=2, aborted=3)

"""Compaction lab: the late reader rebuilds exactly the latest state; tombstones delete keys."""

from __future__ import annotations

import time

import pytest

from labs.compaction import run_compaction
from labs.lessons import check

pytestmark = pytest.mark.brokers


def test_a_late_reader_bootstraps_the_latest_state_from_a_compacted_topic():
    started = time.monotonic()
    result = run_compaction()
    assert time.monotonic() - started <= 45, "the default run must fit the lesson"
    assert check("compaction", result) == []
    m = result.metrics
    assert m["records_written"] == 20 * 20 - 4 * 9 + 4 + 1  # updates, tombstones, the roll
    assert m["records_left"] == 16 + 1 < m["records_written"]
    assert result.report["bootstrap:late"].processed == 16


def test_min_compaction_lag_holds_records_back_from_the_cleaner():
    result = run_compaction(keys=5, updates_per_key=4, tombstoned_keys=1,
                            min_compaction_lag_ms=3000, seed=2)  # fmt: skip
    assert check("compaction", result) == []
    assert result.metrics["compacted_after_s"] >= 3.0
    assert result.metrics["live_keys"] == 4


def test_bad_parameters_name_the_parameter():
    with pytest.raises(ValueError, match="tombstoned_keys"):
        run_compaction(keys=3, tombstoned_keys=3)

"""Replay lab: late groups replay everything, seek works, retention limits replay."""

from __future__ import annotations

import pytest

from labs.lessons import check
from labs.replay import run_replay

pytestmark = pytest.mark.brokers


def test_replay_groups_seek_and_retention():
    result = run_replay()
    # The lesson (labs.lessons): late groups replay all, latest starts at the end, seek by
    # offset and by timestamp read their ranges, retention deletes what an offline group missed.
    assert check("replay", result) == []
    r = result.report
    assert r["group:early"].processed == 300
    assert r["seek:timestamp"].acknowledged == result.metrics["second_half_messages"] == 150
    assert r["group:offline"].lost == 100  # offline_messages
    assert r["group:offline"].processed == 50 + 10  # read before offline + written after
    assert result.metrics["deleted_by_retention"] == 150


def test_replay_single_partition_small():
    result = run_replay(
        messages=40,
        partitions=1,
        seek_offset=10,
        retained_messages=10,
        offline_messages=20,
        retention_ms=500,
        seed=3,
    )
    assert check("replay", result) == []
    r = result.report
    assert r["group:late"].processed == 40
    assert r["seek:offset"].acknowledged == r["seek:offset"].processed == 30
    assert r["seek:timestamp"].processed == 20
    assert r["group:offline"].lost == 20

"""Replay lab: late groups replay everything, seek works, retention limits replay."""

from __future__ import annotations

import pytest

from labs.replay import run_replay

pytestmark = pytest.mark.brokers


def test_replay_groups_seek_and_retention():
    result = run_replay()
    r = result.report
    assert r["group:early"].processed == r["group:early"].acknowledged == 300
    # A second group created later replays the whole log, unaffected by the first's commits.
    assert r["group:late"].processed == 300
    assert r["group:late"].duplicated == 0
    # auto_offset_reset='latest': starts at the end; the history is still there (unseen).
    assert r["group:late-latest"].processed == 0
    assert r["group:late-latest"].unseen == 300
    # seek(tp, 40) on 3 partitions: everything at offset >= 40 of each partition.
    assert r["seek:offset"].processed == r["seek:offset"].acknowledged > 0
    assert r["seek:offset"].lost == 0
    # offsets_for_times at the first timestamp of the second half: exactly the second half.
    assert r["seek:timestamp"].acknowledged == result.metrics["second_half_messages"] == 150
    assert r["seek:timestamp"].processed == 150
    # Offline past retention: what retention deleted is lost even on Kafka.
    off = r["group:offline"]
    assert off.lost == 100  # offline_messages
    assert off.processed == 50 + 10  # read before going offline + written after deletion
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
    r = result.report
    assert r["group:late"].processed == 40
    assert r["seek:offset"].acknowledged == r["seek:offset"].processed == 30
    assert r["seek:timestamp"].processed == 20
    assert r["group:offline"].lost == 20

"""Streams lab: a crash leaves pending entries; XAUTOCLAIM redelivers them."""

from __future__ import annotations

import pytest

from labs.streams import run_streams

pytestmark = pytest.mark.brokers


@pytest.mark.parametrize(("batch", "crash_after"), [(10, 25), (7, 30)])
def test_pending_entries_are_claimed_and_acked(batch, crash_after):
    result = run_streams(batch=batch, crash_after=crash_after)
    m = result.metrics
    stream = result.report["stream-group:0"]
    # Read but unacknowledged at the crash: the crashed entry and the rest of its batch.
    assert m["pending_after_crash"] == batch - (crash_after - 1) % batch
    assert m["claimed"] == m["pending_after_crash"]
    assert m["max_delivery_count"] == 2
    assert m["pending_at_end"] == 0
    assert (stream.lost, stream.unseen) == (0, 0)
    assert stream.duplicated == 1  # processed, crashed before XACK
    kafka = result.report["group:0"]
    assert kafka.duplicated == crash_after - m["last_committed:group:0"]
    assert kafka.lost == 0

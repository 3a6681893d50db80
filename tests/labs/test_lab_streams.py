"""Streams lab: a crash leaves pending entries; XAUTOCLAIM redelivers them."""

from __future__ import annotations

import pytest

from labs.lessons import check
from labs.streams import run_streams

pytestmark = pytest.mark.brokers


@pytest.mark.parametrize(("batch", "crash_after"), [(10, 25), (7, 30)])
def test_pending_entries_are_claimed_and_acked(batch, crash_after):
    result = run_streams(batch=batch, crash_after=crash_after)
    # The lesson (labs.lessons): the crashed batch stays pending, XAUTOCLAIM redelivers it
    # once, XACK empties the PEL; Kafka redelivers what followed its last commit.
    assert check("streams", result) == []

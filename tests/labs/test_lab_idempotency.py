"""Idempotency lab: crash before commit -> duplicates; dedupe -> none; commit first -> loss."""

from __future__ import annotations

import pytest

from labs.idempotency import run_idempotency
from labs.lessons import check

pytestmark = pytest.mark.brokers


@pytest.mark.parametrize(
    ("crash_after", "commit_every", "producer"),
    [(25, 10, "idempotent"), (30, 10, "non-idempotent"), (7, 3, "idempotent")],
)
def test_crash_before_commit(crash_after, commit_every, producer):
    result = run_idempotency(crash_after=crash_after, commit_every=commit_every, producer=producer)
    # The lesson (labs.lessons): commit after processing redelivers what followed the last
    # commit; SET NX dedupe absorbs exactly those; commit first loses what the crash skipped.
    assert check("idempotency", result) == []
    assert result.report["group:idempotent"].processed == 100
    assert result.settings["producer.enable_idempotence"] == (producer == "idempotent")
    assert result.settings["producer.acks"] == ("all" if producer == "idempotent" else 1)

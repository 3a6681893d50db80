"""Idempotency lab: crash before commit -> duplicates; dedupe -> none; commit first -> loss."""

from __future__ import annotations

import pytest

from labs.idempotency import run_idempotency

pytestmark = pytest.mark.brokers


@pytest.mark.parametrize(
    ("crash_after", "commit_every", "producer"),
    [(25, 10, "idempotent"), (30, 10, "non-idempotent"), (7, 3, "idempotent")],
)
def test_crash_before_commit(crash_after, commit_every, producer):
    result = run_idempotency(crash_after=crash_after, commit_every=commit_every, producer=producer)
    m = result.metrics
    after = result.report["group:commit-after"]
    last = m["last_committed:group:commit-after"]
    assert last == (crash_after - 1) // commit_every * commit_every
    assert after.duplicated == crash_after - last
    assert (after.lost, after.unseen) == (0, 0)
    idem = result.report["group:idempotent"]
    assert idem.duplicated == 0
    assert idem.processed == idem.acknowledged == 100
    assert (
        m["redeliveries:group:idempotent"]
        == crash_after - last
        == m["dedupe_hits:group:idempotent"]
    )
    before = result.report["group:commit-before"]
    committed = m["last_committed:group:commit-before"]
    assert before.duplicated == 0
    assert before.lost == committed - crash_after
    assert result.settings["producer.enable_idempotence"] == (producer == "idempotent")
    assert result.settings["producer.acks"] == ("all" if producer == "idempotent" else 1)

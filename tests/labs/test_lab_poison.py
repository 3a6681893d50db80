"""Poison lab: retries with backoff, a dead-letter topic, reprocessing from it."""

from __future__ import annotations

import pytest

from labs.poison import run_poison

pytestmark = pytest.mark.brokers


def test_poison_goes_to_dlq_and_is_reprocessed():
    result = run_poison()
    m = result.metrics
    assert m["poison"] == 5 and m["transient"] == 10
    assert m["dlq"] == 5
    assert m["retries"] == 5 * 3 + 10  # poison: every retry; transient: one retry each
    assert m["recovered_by_retry"] == 10
    main = result.report["group:main"]
    assert main.processed == main.acknowledged == 95 and main.lost == 0
    dlq = result.report["group:dlq-reprocess"]
    assert dlq.processed == dlq.acknowledged == 5
    pipe = result.report["pipeline"]
    assert (pipe.processed, pipe.lost, pipe.duplicated) == (100, 0, 0)


def test_without_retries_transient_failures_are_dead_lettered_too():
    result = run_poison(messages=60, max_retries=0, poison_fraction=0.1, transient_fraction=0.1)
    m = result.metrics
    assert m["retries"] == 0
    assert m["dlq"] == 12
    assert result.report["pipeline"].lost == 0

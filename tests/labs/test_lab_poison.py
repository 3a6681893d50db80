"""Poison lab: retries with backoff, a dead-letter topic, reprocessing from it."""

from __future__ import annotations

import pytest

from labs.lessons import check
from labs.poison import run_poison

pytestmark = pytest.mark.brokers


def test_poison_goes_to_dlq_and_is_reprocessed():
    result = run_poison()
    # The lesson (labs.lessons): poison messages are retried max_retries times and dead-
    # lettered, transient failures recover on a retry, the DLQ is reprocessed, nothing lost.
    assert check("poison", result) == []
    m = result.metrics
    assert m["poison"] == 5 and m["transient"] == 10 and m["dlq"] == 5
    assert m["retries"] == 5 * 3 + 10  # poison: every retry; transient: one retry each


def test_without_retries_transient_failures_are_dead_lettered_too():
    result = run_poison(messages=60, max_retries=0, poison_fraction=0.1, transient_fraction=0.1)
    assert check("poison", result) == []
    assert result.metrics["retries"] == 0
    assert result.metrics["dlq"] == 12

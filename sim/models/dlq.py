"""Poison messages and the dead-letter queue.

A poison message is one whose processing always fails (a bad payload, a schema the
consumer cannot read). A Kafka consumer retries it ``max_retries`` times with
exponential backoff -- holding up its partition the whole time -- and then publishes it
to a dead-letter topic and moves on; a Redis Streams group lets it be reclaimed until it
has been delivered ``max_deliveries`` times. The dead letters of a group form a reader of
their own, ``dlq:<group>``, whose expected messages are the poison ones, so the checker
counts DLQ volume (and poison messages that never reached it) like any other delivery.
:func:`dead_letter_fraction` is the share a Streams group dead-letters in theory.
"""

from __future__ import annotations

import numpy as np

from sim.core.history import ReaderHistory


def retry_cost(service: np.ndarray, max_retries: int, retry_backoff_ms: float) -> np.ndarray:
    """Time a poison message holds its consumer: ``max_retries + 1`` attempts plus the
    exponential backoffs ``b, 2b, 4b, ...`` between them."""
    backoff = retry_backoff_ms / 1000.0 * (2.0**max_retries - 1.0)
    return service * (max_retries + 1) + backoff


def dead_letter_fraction(
    failure_probability: float, max_deliveries: int, poison_fraction: float = 0.0
) -> float:
    """Expected share of records a Streams group dead-letters after ``max_deliveries``
    deliveries: every poison record, and any other whose deliveries all failed -- each
    independently with ``failure_probability``, so ``p ** max_deliveries`` of them.

    >>> dead_letter_fraction(0.5, 3)
    0.125
    >>> round(dead_letter_fraction(0.5, 3, poison_fraction=0.1), 4)
    0.2125
    """
    if not 0.0 <= failure_probability <= 1.0:
        raise ValueError(f'"failure_probability" must be in [0, 1], got {failure_probability}.')
    if not (isinstance(max_deliveries, int) and max_deliveries >= 1):
        raise ValueError(f'"max_deliveries" must be an integer >= 1, got {max_deliveries!r}.')
    if not 0.0 <= poison_fraction <= 1.0:
        raise ValueError(f'"poison_fraction" must be in [0, 1], got {poison_fraction}.')
    return poison_fraction + (1.0 - poison_fraction) * failure_probability**max_deliveries


def dead_letter_reader(
    name: str, ids: np.ndarray, times: np.ndarray, poison: np.ndarray
) -> ReaderHistory:
    """The dead-letter topic of reader ``name`` as a reader history ``dlq:<name>``."""
    order = np.argsort(times, kind="stable")
    return ReaderHistory(
        f"dlq:{name}",
        np.asarray(ids, np.int64)[order],
        np.asarray(times, float)[order],
        expected=poison,
        available=np.zeros(poison.size, bool),
    )

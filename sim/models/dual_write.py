"""The dual write and the transactional outbox under crashes: what each design loses,
invents and duplicates.

A service handles ``requests`` requests; each writes a database row and publishes an event.
Each request crashes with probability ``crash_probability``, independently; a crash falls
after the database commit (share ``after_commit_share``) or before it, once the event is out.

- **dual write**: a crash after the commit loses the event (the row has none), a crash
  before it invents one (the event of a row rolled back). Expected counts:
  ``lost = N p q``, ``invented = N p (1 - q)`` (binomial: variance ``N p q (1 - p q)``).
- **outbox**: the row and the event (an outbox row) commit together: nothing is lost or
  invented. A relay that crashes after publishing a batch and before marking it sent
  publishes it again: each relay crash adds a batch of duplicates, which a consumer that
  deduplicates by event id removes.

:func:`expected` is the theory, :func:`simulate` draws one run (the relay crashes at full
batches only, as in the lab). The outbox lab (``labs.outbox``) fixes the number of crashes instead
(``round(f N)``) and where each falls: its counts are this model's for a given draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DesignCounts:
    """What one design did with ``requests`` requests: rows committed, events lost (row,
    no event), invented (event, no row), duplicated before and after deduplication."""

    design: str
    requests: int
    committed: float
    lost: float
    invented: float
    duplicated: float
    duplicated_after_dedupe: float


def _check(requests: int, crash_probability: float, after_commit_share: float) -> None:
    if not (isinstance(requests, int) and requests >= 1):
        raise ValueError(f'"requests" must be a whole number >= 1, got {requests!r}.')
    if not 0 <= crash_probability <= 1:
        raise ValueError(f'"crash_probability" must be in [0, 1], got {crash_probability!r}.')
    if not 0 <= after_commit_share <= 1:
        raise ValueError(f'"after_commit_share" must be in [0, 1], got {after_commit_share!r}.')


def expected(
    requests: int,
    crash_probability: float,
    *,
    after_commit_share: float = 0.5,
    relay_crashes: int = 0,
    relay_batch: int = 10,
) -> tuple[DesignCounts, DesignCounts]:
    """The expected counts of the dual write and of the outbox (theory)."""
    _check(requests, crash_probability, after_commit_share)
    n, p, q = requests, crash_probability, after_commit_share
    committed = n * (1 - p * (1 - q))
    dual = DesignCounts("dual write", n, committed, n * p * q, n * p * (1 - q), 0.0, 0.0)
    outbox = DesignCounts("outbox", n, committed, 0.0, 0.0, float(relay_crashes * relay_batch), 0.0)
    return dual, outbox


def simulate(
    requests: int,
    crash_probability: float,
    seed: int,
    *,
    after_commit_share: float = 0.5,
    relay_crashes: int = 0,
    relay_batch: int = 10,
) -> tuple[DesignCounts, DesignCounts]:
    """One run: which requests crash and where, drawn from ``seed``; the relay crashes
    after ``relay_crashes`` distinct full batches (fewer if there are not as many)."""
    _check(requests, crash_probability, after_commit_share)
    rng = np.random.default_rng(seed)
    crashed = rng.random(requests) < crash_probability
    after = crashed & (rng.random(requests) < after_commit_share)
    before = crashed & ~after
    committed = int(requests - before.sum())
    dual = DesignCounts(
        "dual write", requests, committed, int(after.sum()), int(before.sum()), 0, 0
    )
    crashes = min(relay_crashes, committed // relay_batch)  # at full batches only
    outbox = DesignCounts("outbox", requests, committed, 0, 0, crashes * relay_batch, 0)
    return dual, outbox

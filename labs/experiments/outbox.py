"""The outbox experiment: the dual write (a database row, then or before a Kafka event, with
no transaction around both) loses or invents events when a crash falls between the two
writes; the transactional outbox loses none and, after deduplication by event id, duplicates
none.

Declared once here: the lab's parameters (:data:`PARAMS`). Lab: :func:`labs.outbox.run_outbox`;
lesson: ``17_compaction_and_outbox``. Theory: of ``c = round(crash_fraction * requests)``
crashed requests (drawn from the seed), each crash falls after the database commit (dual
write: the event is lost) or before it (the event went out, the row was rolled back: an
invented event), half and half on average. The outbox commits the row and its outbox row
together or not at all, so it loses and invents nothing; a relay crash after publishing a
batch and before marking it sent publishes that batch again: ``relay_crashes * relay_batch``
duplicates at most, all removed by the consumer's deduplication by event id. The simulator's
model (expected counts for a crash probability per request): :mod:`sim.models.outbox`.
"""

from __future__ import annotations

from labs.experiments.base import Experiment
from labs.params import Bound, Param, Params


def relay_batches(values) -> int:
    """Full batches the relay publishes at least (every crashed request rolled back)."""
    crashed = round(values["crash_fraction"] * values["requests"])
    return (values["requests"] - crashed) // values["relay_batch"]


PARAMS = Params(
    (
        Param("requests", 100, "orders the service handles", 10, 2000),
        Param("crash_fraction", 0.2, "fraction of requests that crash between the two writes",
              0.0, 0.9, step=0.05),
        Param("relay_batch", 10, "outbox rows the relay publishes per batch", 1, 200),
        Param("relay_crashes", 2, "times the relay crashes after publishing a batch", 0, 20),
    ),
    (
        Bound("relay_crashes", "at most one per full batch the relay publishes",
              high=relay_batches),
    ),
)  # fmt: skip


OUTBOX = Experiment(
    name="outbox",
    summary="the dual write loses or invents events; the transactional outbox does neither",
    params=PARAMS,
    lab="labs.outbox:run_outbox",
    lesson="17_compaction_and_outbox",
    theory="dual write: lost = crashes after the commit, invented = crashes before it; "
    "outbox: none lost, none duplicated after deduplication",
)

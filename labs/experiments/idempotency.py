"""The idempotency experiment: a crash before the commit gives duplicates; dedupe removes them.

Declared once here: the lab's parameters (:data:`PARAMS`) and the twin's (:data:`TWIN`).
Lab: :func:`labs.idempotency.run_idempotency`; lesson: ``06_delivery_guarantees``.
Theory: committing after processing, a crash after message ``k`` redelivers
``k - commit_every * floor((k - 1) / commit_every)`` messages; a dedupe store makes 0
duplicated side effects. The simulator's model is the twin's
(:meth:`labs.twins.idempotency.IdempotencyTwin.scenario`: its crash is placed on a step
clock).
"""

from __future__ import annotations

from labs.experiments.base import Experiment
from labs.params import Bound, Param, Params

#: Producer settings the lab offers (their client options are in :mod:`labs.idempotency`).
PRODUCERS = ("idempotent", "non-idempotent")

PARAMS = Params(
    (
        Param("messages", 100, "messages in the topic", 2, 100000),
        Param("crash_after", 25, "side effects before the crash", 1, 100000),
        Param("commit_every", 10, "messages per commit", 1, 100000),
        Param("num_keys", 10, "number of distinct keys", 1, 100000),
        Param("dedupe_ttl_s", 60, "TTL of the dedupe keys", 1, 86400, unit="s"),
        Param("producer", "idempotent", "producer settings", choices=PRODUCERS),
    ),
    (
        Bound("crash_after", "before the last message", high=lambda v: v["messages"] - 1),
        Bound("commit_every", "at most messages", high=lambda v: v["messages"]),
    ),
)

#: The twin: up to 2000 messages (the simulator steps one record at a time).
TWIN = PARAMS.select("messages", "crash_after", "commit_every", "num_keys").narrow(
    messages={"low": 10, "high": 2000},
    crash_after={"high": 1999},
    commit_every={"high": 2000},
)


def workload(*, messages: int, num_keys: int, **_):
    from sim.core.scenario import Workload

    return Workload(rate_per_s=10000.0, messages=messages, arrivals="constant", keys=num_keys)


IDEMPOTENCY = Experiment(
    name="idempotency",
    summary="a crash before the commit: duplicates, dedupe with SET NX, or loss",
    params=PARAMS,
    lab="labs.idempotency:run_idempotency",
    lesson="06_delivery_guarantees",
    theory="duplicates = crash_after - last commit; 0 with a dedupe store",
    twins={"idempotency": ("labs.twins.idempotency:IdempotencyTwin", TWIN)},
)

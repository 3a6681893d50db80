"""The zombie experiment: a member stalls past ``max.poll.interval.ms`` in the middle of a
poll batch, is replaced, and still finishes its batch when it wakes.

Declared once here: the lab's parameters (:data:`PARAMS`) and the twin's (:data:`TWIN`).
Lab: :func:`labs.zombie.run_zombie`; lesson: ``16_rebalancing``. Theory: the
member commits after every batch of ``batch`` records; it stalls after ``batches_before``
full batches and ``stall_at`` records of the next one. Its replacement starts from the last
commit (``batches_before * batch``), so the ``stall_at`` records it did are processed again,
and the zombie, once awake, does the ``batch - stall_at`` others a second time too:
``zombie duplicates = batch - stall_at``, ``duplicated side effects = batch``; the zombie's
commit is rejected (generation fencing). The simulator's model is the twin's
(:meth:`labs.twins.zombie.ZombieTwin.scenario`).
"""

from __future__ import annotations

from labs.experiments.base import Experiment
from labs.params import Bound, Param, Params

PARAMS = Params(
    (
        Param("messages", 200, "messages in the topic", 4, 5000),
        Param("batch", 20, "max_poll_records (the member commits after each batch)", 2, 500),
        Param("batches_before", 2, "full batches done before the stall", 0, 20),
        Param("stall_at", 7, "records of the next batch done before the stall", 1, 499),
        Param("max_poll_interval_ms", 1000, "max.poll.interval.ms of the member", 500, 10000,
              unit="ms"),
        Param("stall_s", 4.0, "how long the member stalls", 1, 60, step=0.5, unit="s"),
    ),
    (
        Bound("stall_at", "inside the batch (below batch)", high=lambda v: v["batch"] - 1),
        Bound("messages", "the stalled batch must be full",
              low=lambda v: (v["batches_before"] + 1) * v["batch"]),
        Bound("stall_s", "past max_poll_interval_ms, with 2 s for the takeover",
              low=lambda v: v["max_poll_interval_ms"] / 1000 + 2),
    ),
)  # fmt: skip

#: The twin: short runs (each record is a side effect recorded in the lab's memory).
TWIN = PARAMS.select("messages", "batch", "batches_before", "stall_at").narrow(
    messages={"high": 2000}, batch={"high": 200}, batches_before={"high": 10}
)


ZOMBIE = Experiment(
    name="zombie",
    summary="a member stalls past max.poll.interval.ms: replaced, yet it finishes its batch",
    params=PARAMS,
    lab="labs.zombie:run_zombie",
    lesson="16_rebalancing",
    theory="zombie duplicates = batch - stall_at; duplicated side effects = batch",
    twins={"zombie": ("labs.twins.zombie:ZombieTwin", TWIN)},
)

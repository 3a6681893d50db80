"""The durability experiment: acks=1 vs acks=all when brokers of a 3-broker cluster fail.

Declared once here: the lab's parameters (:data:`PARAMS`). Lab:
:func:`labs.durability.run_durability` (both producers at once: :func:`labs.durability.compare`)
on the cluster of ``python -m labs.stack up --cluster``; its simulator twin is
:mod:`sim.course.durability`, whose fault schedules and workload ranges these parameters
name; lesson: ``13_durability``.

Theory: with ``acks=1`` a write only the leader had is lost when that leader fails before a
follower copied it; with ``acks=all`` and ``min.insync.replicas=2`` an acknowledged write is
on two replicas, and the idempotent producer's retries write no duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labs.experiments.base import Experiment
from labs.params import Param, Params
from sim.course.durability import DURATION_RANGE_S, RATE_RANGE_PER_S, SCHEDULES
from sim.models.cluster import REPLICATION_FACTOR

#: ``enable_idempotence`` as the lab takes it: ``auto`` follows acks (on with ``all``).
IDEMPOTENCE = {"auto": None, "true": True, "false": False}

PARAMS = Params(
    (
        Param(
            "acks",
            "all",
            "producer acks: the leader only (1) or every in-sync replica (all)",
            choices=("1", "all"),
        ),
        Param("schedule", "frozen-followers", "the fault schedule", choices=tuple(SCHEDULES)),
        Param(
            "rate_per_s",
            100.0,
            "messages sent per second",
            *RATE_RANGE_PER_S,
            step=10,
            unit="msg/s",
        ),
        Param("duration_s", 10.0, "seconds of sending", *DURATION_RANGE_S, step=1, unit="s"),
        Param(
            "enable_idempotence",
            "auto",
            "idempotent producer (auto: on with acks=all)",
            choices=tuple(IDEMPOTENCE),
        ),
        Param("min_insync_replicas", 2, "min.insync.replicas of the topic", 1, REPLICATION_FACTOR),
    )
)

DURABILITY = Experiment(
    name="durability",
    summary="acks=1 loses acknowledged writes when a leader fails; acks=all keeps them",
    params=PARAMS,
    lab="labs.durability:run_durability",
    lesson="13_durability",
    theory="acks=1 loses what only the failed leader had; acks=all + min.insync.replicas=2 none",
    needs_cluster=True,
)


def check_call(
    *, schedule: str | Sequence, acks: int | str = "all", enable_idempotence: Any = "auto", **values
) -> dict[str, Any]:
    """A call's values checked against :data:`PARAMS`. ``acks=1`` and ``enable_idempotence``
    as True, False or None are taken as Python callers write them; a schedule given as Fault
    rows rather than by name is checked by :func:`sim.course.durability.schedule_of`."""
    given = {
        **values,
        "acks": "1" if acks in (1, "1") else acks,
        "enable_idempotence": {None: "auto", True: "true", False: "false"}.get(
            enable_idempotence, enable_idempotence
        ),
    }
    if isinstance(schedule, str):
        given["schedule"] = schedule
    return DURABILITY.check(given)

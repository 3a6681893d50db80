"""The redis-durability experiment: what a Redis crash loses, per persistence policy, and
what a failover to an asynchronous replica loses, with and without ``WAIT``.

Declared once here: the lab's parameters. Lab: :func:`labs.redis_durability.run_redis_durability`
(its own redis-server processes, :mod:`labs.stack.private_redis`); simulator:
:mod:`sim.models.replication`; twin: ``failover`` (:mod:`labs.twins.failover`); lesson:
``15_streams_in_production`` (part 3).

Theory: a restart with ``appendonly no`` (and no snapshot) loses every acknowledged write;
with the AOF a process crash loses none (``appendfsync always``) or, with ``everysec``,
none unless a slow fsync postponed the write; a failover loses the writes of the last
replication delay, ``rate * lag``; none that ``WAIT 1`` confirmed.
"""

from __future__ import annotations

from labs.experiments.base import Experiment
from labs.params import Param, Params

PARAMS = Params(
    (
        Param("records", 1000, "XADDs per persistence policy before the kill", 10, 20000),
        Param(
            "rate_per_s", 200.0, "the lower write rate of the failover runs", 10, 2000, step=10,
            unit="msg/s",
        ),
        Param(
            "high_rate_per_s", 1000.0, "the higher write rate of the failover runs", 10, 5000,
            step=10, unit="msg/s",
        ),
        Param(
            "lag_ms", 100.0, "one-way delay of the primary-replica link", 0, 1000, step=10,
            unit="ms",
        ),
        Param(
            "kill_after_s", 1.5, "seconds of writing before the primary dies", 0.2, 10,
            step=0.1, unit="s",
        ),
        Param("wait_timeout_ms", 1000, "WAIT 1 <timeout>: how long WAIT waits", 10, 10000,
              step=10, unit="ms"),
    )
)  # fmt: skip

#: The two write rates of the failover runs, by label (the result's metric suffixes).
RATES = {"low": "rate_per_s", "high": "high_rate_per_s"}

REDIS_DURABILITY = Experiment(
    name="redis_durability",
    summary="Redis AOF policies on a kill -9; async replication loses writes on failover",
    params=PARAMS,
    lab="labs.redis_durability:run_redis_durability",
    lesson="15_streams_in_production",
    theory="no AOF loses all, always none; a failover loses rate x lag; none confirmed by WAIT",
    twins={"failover": ("labs.twins.failover:FailoverTwin", PARAMS)},
    short_run={"records": 200, "kill_after_s": 0.8},
)

"""The streams-ops experiment: operating Redis Streams -- monitoring, dead letters,
XGROUP DELCONSUMER and trimming.

Declared once here: the lab's parameters, the workload and the simulator's model. Lab:
:func:`labs.streams_ops.run_streams_ops`; lesson: ``15_streams_in_production``. Theory: a
record whose every delivery fails with probability ``p`` is dead-lettered after
``max_deliveries`` deliveries with probability ``p ** max_deliveries`` (always, if it is
poison); ``XGROUP DELCONSUMER`` drops the consumer's pending entries from the PEL; trimming
deletes the data of pending entries (the PEL keeps their ids) and of entries no one read.
"""

from __future__ import annotations

from labs.experiments.base import Experiment, Timing
from labs.params import Bound, Param, Params
from sim import Stream, StreamGroup
from sim.core.distributions import Service
from sim.core.scenario import Consumers, Scenario, Topology, Workload

#: The simulator's time per delivery (ms) and how often its members run XAUTOCLAIM.
STEP_MS = 1.0

PARAMS = Params(
    (
        Param("messages", 60, "records in the main stream", 2, 5000),
        Param("poison_fraction", 0.05, "share of records that always fail", 0, 0.5, step=0.01),
        Param("failure_probability", 0.3, "chance that one delivery of any other record fails",
              0, 0.9, step=0.05),
        Param("max_deliveries", 3, "deliveries before a record goes to the dead-letter stream",
              1, 10),
        Param("batch", 10, "XREADGROUP / XAUTOCLAIM COUNT", 1, 1000),
        Param("min_idle_ms", 50, "XAUTOCLAIM min-idle-time", 10, 5000, step=10, unit="ms"),
        Param("abandoned", 5, "entries pending on the consumer removed by DELCONSUMER", 0, 1000),
        Param("trim_messages", 400, "entries in the trimmed stream", 1, 20000),
        Param("slow_read", 150, "entries the slow group read (pending) before the trim",
              0, 20000),
        Param("maxlen", 150, "XTRIM MAXLEN ~", 1, 20000),
        Param("minid_keep", 100, "newest entries XTRIM MINID keeps", 0, 20000),
        Param("shards", 2, "streams, one per shard of the keys, one consumer each", 1, 16),
        Param("num_keys", 10, "number of distinct keys", 1, 100000),
    ),
    (
        Bound("slow_read", "at most the entries in the trimmed stream",
              high=lambda v: v["trim_messages"]),
        Bound("maxlen", "at most the entries in the trimmed stream",
              high=lambda v: v["trim_messages"]),
        Bound("minid_keep", "at most the entries in the trimmed stream",
              high=lambda v: v["trim_messages"]),
    ),
)  # fmt: skip


def workload(*, messages, poison_fraction, num_keys, **_) -> Workload:
    return Workload(
        rate_per_s=10000.0,
        messages=messages,
        arrivals="constant",
        keys=num_keys,
        poison_fraction=poison_fraction,
    )


def scenario(*, timing: Timing, **v) -> Scenario:
    """The dead-letter part: one group of two consumers reading batches of ``batch``; a
    delivery fails (poison always, any other record with ``failure_probability``); XAUTOCLAIM
    every ``min_idle_ms`` redelivers, and a record delivered ``max_deliveries`` times goes
    to the dead-letter stream."""
    per_record_ms = STEP_MS + v["min_idle_ms"] / v["batch"]
    return Scenario(
        name="streams-ops",
        workload=workload(**v),
        topology=Topology(stream=Stream(network_delay_ms=timing.pubsub_latency_ms)),
        consumers=Consumers(
            stream_groups=(
                StreamGroup(
                    consumers=2,
                    count=v["batch"],
                    min_idle_ms=v["min_idle_ms"],
                    autoclaim_interval_ms=v["min_idle_ms"],
                    max_deliveries=v["max_deliveries"],
                    failure_probability=v["failure_probability"],
                    service=Service("constant", STEP_MS),
                ),
            ),
        ),
        # Long enough for every delivery of every record: XAUTOCLAIM hands each of the two
        # members ``batch`` entries every ``min_idle_ms``, the bottleneck when most fail.
        drain_s=1.0 + per_record_ms * v["messages"] * v["max_deliveries"] / 1000.0,
    )


def trim_scenario(
    *, messages: int, rate_per_s: float, service_rate_per_s: float, maxlen: int | None
) -> Scenario:
    """The trimming part in the simulator: ``messages`` appended at ``rate_per_s`` to a
    stream capped at ``maxlen`` (``None``: no cap), one group reading one entry at a time at
    ``service_rate_per_s``. Theory: :func:`sim.models.streams.lost_to_maxlen`."""
    return Scenario(
        name="streams-ops trimming",
        workload=Workload(rate_per_s=rate_per_s, messages=messages, arrivals="constant"),
        topology=Topology(stream=Stream(maxlen=maxlen)),
        consumers=Consumers(
            stream_groups=(
                StreamGroup(count=1, service=Service("constant", 1000.0 / service_rate_per_s)),
            )
        ),
        drain_s=2.0 * messages / service_rate_per_s,
    )


STREAMS_OPS = Experiment(
    name="streams_ops",
    summary="operating Streams: XPENDING/XINFO, dead letters, DELCONSUMER, MAXLEN ~ and MINID",
    params=PARAMS,
    lab="labs.streams_ops:run_streams_ops",
    lesson="15_streams_in_production",
    theory="dead-lettered: poison + p**N of the rest; DELCONSUMER and trimming lose pending "
    "entries",
    scenario=scenario,
)

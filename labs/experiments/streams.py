"""The streams experiment: Redis Streams' PEL, a crash, XAUTOCLAIM, XACK; vs Kafka offsets.

Declared once here: the lab's parameters, the workload and the simulator's model. Lab:
:func:`labs.streams.run_streams`; lesson: ``09_redis_streams``. Theory: nothing is lost;
Streams redeliver what was pending at the crash, Kafka everything since the last commit.
"""

from __future__ import annotations

from labs.experiments.base import Experiment, Timing
from labs.params import Bound, Param, Params
from sim import Group, Log, Stream, StreamGroup
from sim.core.distributions import Service
from sim.core.scenario import Consumers, Fault, Scenario, Topology, Workload

#: The simulator's time per entry (ms); the crash comes ``crash_after`` entries in.
STEP_MS = 1.0

PARAMS = Params(
    (
        Param("messages", 100, "entries in the stream", 2, 100000),
        Param("batch", 10, "XREADGROUP COUNT and Kafka commit interval", 1, 1000),
        Param("crash_after", 25, "entries processed before the crash", 1, 100000),
        Param("min_idle_ms", 200, "XAUTOCLAIM min-idle-time", 10, 5000, step=10, unit="ms"),
        Param("maxlen", 0, "XADD MAXLEN ~ (0 = no trimming)", 0, 1000000),
        Param("num_keys", 10, "number of distinct keys", 1, 100000),
    ),
    (Bound("crash_after", "before the last entry", high=lambda v: v["messages"] - 1),),
)


def workload(*, messages, num_keys, **_) -> Workload:
    return Workload(rate_per_s=10000.0, messages=messages, arrivals="constant", keys=num_keys)


def scenario(*, timing: Timing, **v) -> Scenario:
    """Two stream consumers reading batches of ``batch``, one crashing ``crash_after``
    entries in; a Kafka consumer crashing at the same moment."""
    crash_s = (v["crash_after"] + 0.5) * STEP_MS / 1000.0
    service = Service("constant", STEP_MS)
    return Scenario(
        name="streams",
        workload=workload(**v),
        topology=Topology(
            log=Log(partitions=1, network_delay_ms=timing.kafka_latency_ms),
            stream=Stream(maxlen=v["maxlen"] or None),
        ),
        consumers=Consumers(
            stream_groups=(
                StreamGroup(
                    consumers=2,
                    count=v["batch"],
                    min_idle_ms=v["min_idle_ms"],
                    autoclaim_interval_ms=50.0,
                    service=service,
                ),
            ),
            groups=(Group(max_poll_records=v["batch"], service=service),),
        ),
        faults=(
            Fault("consumer_crash", "stream-group:0:0", crash_s, 1.0),
            Fault("consumer_crash", "group:0:0", crash_s, 0.5),
        ),
        drain_s=2.0,
    )


STREAMS = Experiment(
    name="streams",
    summary="Redis Streams: PEL, crash, XAUTOCLAIM, XACK; vs Kafka offsets",
    params=PARAMS,
    lab="labs.streams:run_streams",
    lesson="09_redis_streams",
    theory="Streams redeliver the pending entries; Kafka everything after the last commit",
    scenario=scenario,
)

"""The hybrid experiment: Kafka as the source of truth, Pub/Sub for a live view.

Declared once here: the lab's parameters, the workload and the simulator's model. Lab:
:func:`labs.hybrid.run_hybrid`; lesson: ``10_hybrid``. Theory: the live view misses
``rate x downtime`` notifications; the rebuild from the topic misses none.
"""

from __future__ import annotations

from labs.experiments.base import Experiment, Timing
from labs.params import Bound, Param, Params
from sim import Group, Log, PubSub, Subscriber
from sim.core.scenario import Consumers, Fault, Scenario, Topology, Workload

PARAMS = Params(
    (
        Param("rate_per_s", 200.0, "events per second", 1, 2000, step=10, unit="msg/s"),
        Param("window_s", 3.0, "seconds of publishing", 0.5, 10, step=0.5, unit="s"),
        Param("down_from_s", 1.0, "when the live view disconnects", 0, 10, step=0.25, unit="s"),
        Param("down_for_s", 1.0, "how long it stays away", 0.05, 10, step=0.25, unit="s"),
        Param("partitions", 3, "partitions of the topic", 1, 32),
        Param("num_keys", 20, "number of accounts", 1, 100000),
    ),
    (
        Bound("down_from_s", "inside the window", high=lambda v: v["window_s"]),
        Bound(
            "down_for_s",
            "ends inside the window",
            high=lambda v: v["window_s"] - v["down_from_s"],
        ),
    ),
)


def workload(*, rate_per_s, window_s, num_keys, **_) -> Workload:
    return Workload(rate_per_s=rate_per_s, duration_s=window_s, arrivals="constant", keys=num_keys)


def scenario(*, timing: Timing, **v) -> Scenario:
    """Facts in a topic (``group:0``, the bridge), notifications on a channel
    (``subscriber:0``, down for a while) and a rebuild (``group:1``) from the start after
    the run. The simulator publishes the notifications directly, without the bridge's hop."""
    return Scenario(
        name="hybrid",
        workload=workload(**v),
        topology=Topology(
            pubsub=PubSub(network_delay_ms=timing.pubsub_latency_ms),
            log=Log(partitions=v["partitions"], network_delay_ms=timing.kafka_latency_ms),
        ),
        consumers=Consumers(
            subscribers=(Subscriber(reconnect_delay_ms=10.0),),
            groups=(Group(), Group(join_at_s=v["window_s"] + 1, auto_offset_reset="earliest")),
        ),
        faults=(Fault("subscriber_down", "subscriber:0", v["down_from_s"], v["down_for_s"]),),
        drain_s=2.0,
    )


HYBRID = Experiment(
    name="hybrid",
    summary="Kafka as the source of truth, Pub/Sub for a live view rebuilt from Kafka",
    params=PARAMS,
    lab="labs.hybrid:run_hybrid",
    lesson="10_hybrid",
    theory="the view misses rate x downtime notifications; the rebuild misses none",
    scenario=scenario,
)

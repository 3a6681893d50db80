"""The backpressure experiment: a slow subscriber is dropped by Redis; a slow consumer lags.

Declared once here: the lab's parameters, the workload and the simulator's model. Lab:
:func:`labs.backpressure.run_backpressure`; lesson: ``07_backpressure``. Theory: a reader
slower than the publisher falls behind at ``rate - service rate``; Redis cuts a subscriber
whose output buffer passes the hard limit, Kafka keeps the backlog as lag.
"""

from __future__ import annotations

from labs.experiments.base import Experiment, Timing
from labs.params import Bound, Param, Params
from sim import Group, Log, PubSub, Subscriber
from sim.core.distributions import Service
from sim.core.scenario import Consumers, Scenario, Topology, Workload

PARAMS = Params(
    (
        Param("rate_per_s", 200.0, "messages published per second", 10, 3000, step=10,
              unit="msg/s"),
        Param("window_s", 1.5, "seconds of publishing", 0.5, 5, step=0.5, unit="s"),
        Param("message_bytes", 65536, "message size", 16, 262144, unit="bytes"),
        Param("service_rate_per_s", 60.0, "processing rate of every reader", 10, 3000, step=10,
              unit="msg/s"),
        Param("slow_rate_per_s", 15.0, "processing rate of subscriber:slow", 1, 3000, step=1,
              unit="msg/s"),
        Param("buffer_limit_bytes", 262144, "client-output-buffer-limit pubsub hard limit",
              65536, 33554432, unit="bytes"),
        Param("shed_limit", 20, "local queue bound of the shed policy", 1, 100000),
        Param("num_keys", 20, "number of distinct keys", 1, 100000),
    ),
    (
        Bound("service_rate_per_s", "the readers are slower than the publisher: at most "
              "rate_per_s", high=lambda v: v["rate_per_s"]),
        Bound("slow_rate_per_s", "at most service_rate_per_s",
              high=lambda v: v["service_rate_per_s"]),
    ),
)  # fmt: skip


def workload(*, rate_per_s, window_s, message_bytes, num_keys, **_) -> Workload:
    return Workload(
        rate_per_s=rate_per_s,
        duration_s=window_s,
        arrivals="constant",
        size_bytes=message_bytes,
        keys=num_keys,
    )


def scenario(*, timing: Timing, **v) -> Scenario:
    """One subscriber (at ``slow_rate_per_s``) behind a pubsub buffer limit of
    ``buffer_limit_bytes`` (soft: half of it for 60 s) and one consumer group at
    ``service_rate_per_s``."""
    limit = v["buffer_limit_bytes"]
    return Scenario(
        name="backpressure",
        workload=workload(**v),
        topology=Topology(
            pubsub=PubSub(
                buffer_hard_bytes=limit,
                buffer_soft_bytes=limit // 2,
                network_delay_ms=timing.pubsub_latency_ms,
            ),
            log=Log(partitions=1, network_delay_ms=timing.kafka_latency_ms),
        ),
        consumers=Consumers(
            subscribers=(
                Subscriber(
                    service=Service("constant", 1000.0 / v["slow_rate_per_s"]),
                    reconnect_delay_ms=10.0,
                ),
            ),
            groups=(Group(service=Service("constant", 1000.0 / v["service_rate_per_s"])),),
        ),
        drain_s=5.0,
    )


BACKPRESSURE = Experiment(
    name="backpressure",
    summary="a slow subscriber is dropped by Redis; a slow Kafka consumer lags",
    params=PARAMS,
    lab="labs.backpressure:run_backpressure",
    lesson="07_backpressure",
    theory="backlog grows at rate - service rate; Redis disconnects past the hard limit",
    scenario=scenario,
)

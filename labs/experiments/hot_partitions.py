"""The hot-partitions experiment: Zipf keys make a hot partition; salting spreads it.

Declared once here: the lab's parameters (:data:`PARAMS`), the twin's (:data:`TWIN`), the
workload and the simulator's model. Lab: :func:`labs.hot_partitions.run_hot_partitions`;
lesson: ``05_hot_partitions``. Theory: partition ``p`` gets the keys ``k`` with
``murmur2(key) % partitions == p`` -- exactly.
"""

from __future__ import annotations

import math

from labs.experiments.base import Experiment, Timing
from labs.experiments.loss import MAX_MESSAGES
from labs.params import Bound, Param, Params
from sim import Group, Log
from sim.core.distributions import Service
from sim.core.scenario import Consumers, Scenario, Topology, Workload

PARAMS = Params(
    (
        Param("key_distribution", "zipf", "key distribution", choices=("uniform", "zipf")),
        Param("rate_per_s", 1500.0, "messages published per second", 10, 20000, step=10,
              unit="msg/s"),
        Param("window_s", 2.0, "seconds of publishing", 0.2, 60, step=0.1, unit="s"),
        Param("partitions", 6, "partitions of the topic", 1, 32),
        Param("num_keys", 1000, "number of distinct keys", 1, 100000),
        Param("zipf_s", 1.3, "Zipf exponent (higher = more skewed)", 0.5, 3, step=0.1),
        Param("service_rate_per_s", 400.0, "per-partition processing rate", 10, 5000, step=10,
              unit="msg/s"),
        Param("salt_buckets", 0, "salt buckets per key (0 = no salting)", 0, 64),
    ),
    (
        Bound(
            "window_s",
            f"at most {MAX_MESSAGES:,} messages (rate_per_s x window_s) in one run",
            high=lambda v: MAX_MESSAGES / v["rate_per_s"],
        ),
    ),
)  # fmt: skip

#: The twin: no salting (the simulator's keys are integers and carry no salt suffix).
TWIN = PARAMS.select(
    "key_distribution",
    "rate_per_s",
    "window_s",
    "partitions",
    "num_keys",
    "zipf_s",
    "service_rate_per_s",
).narrow(rate_per_s={"default": 1000.0}, window_s={"default": 1.5})


def workload(*, rate_per_s, window_s, num_keys, key_distribution, zipf_s, **_) -> Workload:
    return Workload(
        rate_per_s=rate_per_s,
        duration_s=window_s,
        arrivals="constant",
        keys=num_keys,
        key_distribution=key_distribution,
        zipf_s=zipf_s,
    )


def scenario(*, timing: Timing, **v) -> Scenario:
    """The same topic and keys; one consumer per partition at ``service_rate_per_s``."""
    if v.get("salt_buckets"):
        raise ValueError('"salt_buckets" must be 0 in the simulator (integer keys, no salt).')
    mu = v["service_rate_per_s"]
    return Scenario(
        name="hot_partitions",
        workload=workload(**v),
        topology=Topology(
            log=Log(
                partitions=v["partitions"], linger_ms=5.0, network_delay_ms=timing.kafka_latency_ms
            )
        ),
        consumers=Consumers(
            groups=(
                Group(
                    consumers=v["partitions"],
                    service=Service("constant", timing.service_ms or 1000.0 / mu),
                    max_poll_records=2000,
                    auto_offset_reset="earliest",
                ),
            )
        ),
        drain_s=float(math.ceil(v["rate_per_s"] * v["window_s"] / mu + 2.0)),
        lag_points=200,
    )


HOT_PARTITIONS = Experiment(
    name="hot_partitions",
    summary="Zipf keys make a hot partition: skew, per-partition lag, salting",
    params=PARAMS,
    lab="labs.hot_partitions:run_hot_partitions",
    lesson="05_hot_partitions",
    theory="partition counts = murmur2(key) % partitions over the key sequence, exactly",
    scenario=scenario,
    twins={"hot_partitions": ("labs.twins.hot_partitions:HotPartitionsTwin", TWIN)},
)

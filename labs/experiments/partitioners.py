"""The partitioners experiment: the same keys, three producers, three placements.

Declared once here: the lab's parameters (:data:`PARAMS`, also the twin's), the workload
and the simulator's model. Lab: :func:`labs.partitioners.run_partitioners`. Theory: a key
goes to ``(murmur2(key) & 0x7fffffff) % partitions`` from kafka-python and from
confluent-kafka with ``partitioner=murmur2_random``, and to ``crc32(key) % partitions``
from confluent-kafka's default ``consistent_random`` -- exactly, so the first two agree
key by key and the third does not.
"""

from __future__ import annotations

import dataclasses

from labs.experiments.base import Experiment, Timing
from labs.params import Param, Params
from sim import Group, Log
from sim.core.scenario import Consumers, Scenario, Topology, Workload

#: The producers the lab runs, and the simulator partitioner each one matches.
CLIENTS = {
    "kafka-python": "murmur2",
    "confluent-default": "consistent_random",
    "confluent-murmur2_random": "murmur2_random",
}

PARAMS = Params(
    (
        Param("partitions", 6, "partitions of each topic", 1, 64),
        Param("num_keys", 1000, "number of distinct keys", 1, 100000),
        Param("messages", 3000, "messages each producer sends", 1, 100000),
        Param("key_distribution", "uniform", "key distribution", choices=("uniform", "zipf")),
    )
)

#: The twin takes the lab's parameters as they are (placement has no timing to calibrate).
TWIN = PARAMS


def workload(*, messages, num_keys, key_distribution, **_) -> Workload:
    """``messages`` keyed messages over one second (the timing plays no part)."""
    return Workload(
        rate_per_s=float(messages),
        duration_s=1.0,
        arrivals="constant",
        keys=num_keys,
        key_distribution=key_distribution,
    )


def scenario(*, timing: Timing, partitioner: str = "murmur2", **v) -> Scenario:
    """The topic written by a producer using ``partitioner``, read by one consumer."""
    return Scenario(
        name="partitioners",
        workload=workload(**v),
        topology=Topology(
            log=Log(
                partitions=v["partitions"],
                partitioner=partitioner,
                linger_ms=5.0,
                network_delay_ms=timing.kafka_latency_ms,
            )
        ),
        consumers=Consumers(groups=(Group(consumers=1, auto_offset_reset="earliest"),)),
        drain_s=2.0,
    )


def scenario_for(client: str, timing: Timing | None = None, **values) -> Scenario:
    """The scenario of the lab's producer ``client`` (one of :data:`CLIENTS`)."""
    if client not in CLIENTS:
        raise ValueError(f'"client" must be one of {list(CLIENTS)}, got {client!r}.')
    base = PARTITIONERS.build_scenario(timing, **values)
    log = dataclasses.replace(base.topology.log, partitioner=CLIENTS[client])
    return dataclasses.replace(base, topology=dataclasses.replace(base.topology, log=log))


PARTITIONERS = Experiment(
    name="partitioners",
    summary="The same keys from kafka-python, confluent-kafka default and murmur2_random",
    params=PARAMS,
    lab="labs.partitioners:run_partitioners",
    lesson="16_rebalancing",
    theory="murmur2(key) & 0x7fffffff % N (Java, kafka-python, murmur2_random) vs "
    "crc32(key) % N (librdkafka consistent_random), exactly",
    scenario=scenario,
    twins={"partitioners": ("labs.twins.partitioners:PartitionersTwin", TWIN)},
)

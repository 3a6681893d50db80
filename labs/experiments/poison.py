"""The poison experiment: retries with backoff, a dead-letter topic, reprocessing.

Declared once here: the lab's parameters, the workload and the simulator's model. Lab:
:func:`labs.poison.run_poison`; lesson: ``08_poison_messages``. Theory: every poison
message is dead-lettered after ``max_retries + 1`` attempts; nothing is lost.
"""

from __future__ import annotations

from labs.experiments.base import Experiment, Timing
from labs.params import Param, Params
from sim import Group, Log
from sim.core.scenario import Consumers, Scenario, Topology, Workload

PARAMS = Params(
    (
        Param("messages", 100, "messages in the topic", 1, 20000),
        Param("poison_fraction", 0.05, "share of messages that always fail", 0, 0.5, step=0.01),
        Param("transient_fraction", 0.1, "share that fail on the first attempt only", 0, 0.5,
              step=0.01),
        Param("max_retries", 3, "retries before dead-lettering", 0, 10),
        Param("backoff_ms", 10.0, "first retry backoff (doubles)", 0, 1000, step=10, unit="ms"),
        Param("num_keys", 10, "number of distinct keys", 1, 100000),
    )
)  # fmt: skip


def workload(*, messages, poison_fraction, num_keys, **_) -> Workload:
    return Workload(
        rate_per_s=1000.0,
        messages=messages,
        arrivals="constant",
        keys=num_keys,
        poison_fraction=poison_fraction,
    )


def scenario(*, timing: Timing, **v) -> Scenario:
    """One partition, one group with the lab's retries and backoff (the simulator draws
    its poison messages at random and has no transient failures)."""
    return Scenario(
        name="poison",
        workload=workload(**v),
        topology=Topology(log=Log(partitions=1, network_delay_ms=timing.kafka_latency_ms)),
        consumers=Consumers(
            groups=(Group(max_retries=v["max_retries"], retry_backoff_ms=v["backoff_ms"]),)
        ),
    )


POISON = Experiment(
    name="poison",
    summary="retries with backoff, a dead-letter topic, reprocessing",
    params=PARAMS,
    lab="labs.poison:run_poison",
    lesson="08_poison_messages",
    theory="poison messages are dead-lettered after max_retries + 1 attempts; none lost",
    scenario=scenario,
)

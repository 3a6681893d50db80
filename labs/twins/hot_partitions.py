"""The hot-partitions twin: the same key sequence, the same partitioner, the same counts.

The real half is :func:`labs.hot_partitions.run_hot_partitions`: Zipf (or uniform) keys sent
to a topic with ``partitions`` partitions by kafka-python's default partitioner; the
per-partition counts are the topic's end offsets. The simulator publishes the lab's very
key sequence (drawn from the seed exactly as the lab draws it) through its own producer,
which partitions with the same murmur2 (:mod:`sim.partitioner`).

Theory: the count of partition ``p`` is the number of keys ``k`` in the sequence with
``murmur2(key_bytes(k)) & 0x7fffffff % partitions == p`` -- exactly, in all three columns,
and so is the skew (max/mean). Key salting (the lab's ``salt_buckets``) is not part of the
twin: the simulator's keys are integers and cannot carry a salt suffix.

>>> int(HotPartitionsTwin(partitions=4, rate_per_s=100, window_s=1).theory_counts().sum())
100
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labs.hot_partitions import run_hot_partitions
from labs.params import check_choice
from labs.twins.calibrate import Calibration
from labs.twins.common import message_sequence, same_keys
from labs.twins.core import Twin
from labs.twins.result import Row
from labs.workload import KEY_DISTRIBUTIONS, arrival_times, keys, rngs
from sim.analysis.metrics import partition_counts, skew
from sim.analysis.result import Result
from sim.core.distributions import Service
from sim.core.scenario import Consumers, Scenario, Topology
from sim.core.workload import Messages, Workload
from sim.models.groups import Group
from sim.models.log import Log
from sim.models.partitioner import partitions_for


@dataclass(frozen=True)
class HotPartitionsTwin(Twin):
    """Per-partition counts of the real topic equal the simulator's and murmur2's, exactly.

    Ranges: ``rate_per_s`` 10..5000, ``window_s`` 0.2..5, ``partitions`` 1..32,
    ``num_keys`` 1..100000, ``zipf_s`` 0.5..3, ``service_rate_per_s`` 10..5000,
    ``key_distribution`` zipf | uniform, ``seed`` >= 0.
    """

    key_distribution: str = "zipf"
    rate_per_s: float = 1000.0
    window_s: float = 1.5
    partitions: int = 6
    num_keys: int = 1000
    zipf_s: float = 1.3
    service_rate_per_s: float = 400.0
    seed: int = 0

    name = "hot_partitions"
    summary = "Zipf keys through murmur2: per-partition counts identical in theory, sim, real"
    RANGES = {
        "rate_per_s": (10, 5000),
        "window_s": (0.2, 5),
        "partitions": (1, 32),
        "num_keys": (1, 100000),
        "zipf_s": (0.5, 3),
        "service_rate_per_s": (10, 5000),
    }

    def __post_init__(self) -> None:
        check_choice("key_distribution", self.key_distribution, KEY_DISTRIBUTIONS)
        self.check()

    def calibrate(self) -> Calibration:
        """The usual measurement, with a modest background load (the lab's consumer is not
        paced by sleeping, and only the Kafka latency enters the scenario)."""
        from labs.twins.calibrate import calibrate

        return calibrate(
            rate_per_s=min(self.rate_per_s, 200.0), service_rate_per_s=self.service_rate_per_s
        )

    def run_lab(self) -> Result:
        return run_hot_partitions(
            key_distribution=self.key_distribution,
            rate_per_s=self.rate_per_s,
            window_s=self.window_s,
            partitions=self.partitions,
            num_keys=self.num_keys,
            zipf_s=self.zipf_s,
            service_rate_per_s=self.service_rate_per_s,
            salt_buckets=0,
            seed=self.seed,
        )

    def workload(self) -> Messages:
        """The lab's workload for this seed (as the lab draws it: arrivals, keys, salts)."""
        _, key_rng, _ = rngs(self.seed, 3)
        t = arrival_times(self.rate_per_s, self.window_s)
        k = keys(
            t.size,
            self.num_keys,
            distribution=self.key_distribution,
            zipf_s=self.zipf_s,
            rng=key_rng,
        )
        return message_sequence(t, k)

    def theory_counts(self) -> np.ndarray:
        """murmur2's count per partition for the key sequence."""
        parts = partitions_for(self.workload().keys, self.partitions)
        return np.bincount(parts, minlength=self.partitions)

    def scenario(self, cal: Calibration) -> Scenario:
        """The same topic and keys; one consumer per partition at ``service_rate_per_s``
        (the lab's workers complete at exactly that rate: no pacing overhead)."""
        return Scenario(
            name="hot_partitions twin",
            workload=Workload(
                rate_per_s=self.rate_per_s,
                duration_s=self.window_s,
                arrivals="constant",
                keys=self.num_keys,
                key_distribution=self.key_distribution,
                zipf_s=self.zipf_s,
            ),
            topology=Topology(
                log=Log(
                    partitions=self.partitions,
                    linger_ms=5.0,
                    network_delay_ms=cal.kafka_latency_ms,
                )
            ),
            consumers=Consumers(
                groups=(
                    Group(
                        consumers=self.partitions,
                        service=Service("constant", 1000.0 / self.service_rate_per_s),
                        max_poll_records=2000,
                        auto_offset_reset="earliest",
                    ),
                )
            ),
            drain_s=float(np.ceil(self.rate_per_s * self.window_s / self.service_rate_per_s + 2.0)),
            lag_points=200,
        )

    def compare(self, real: Result, sim: Result, cal: Calibration) -> list[Row]:
        planned = self.workload()
        theory = self.theory_counts()
        sim_counts = partition_counts(sim.history, self.partitions)
        real_counts = np.array(
            [real.metrics[f"messages:partition:{p}"] for p in range(self.partitions)]
        )
        same = float(same_keys(real.history, planned.keys) and same_keys(sim.history, planned.keys))
        rows = [
            Row("same key sequence (1 = yes)", 1.0, 1.0, same),
            *(
                Row(
                    f"messages in partition {p}",
                    float(theory[p]),
                    float(sim_counts[p]),
                    float(real_counts[p]),
                )
                for p in range(self.partitions)
            ),
            Row(
                "partition skew (max/mean)",
                skew(theory),
                float(sim.metrics["partition_skew"]),
                float(real.metrics["partition_skew"]),
            ),
            Row(
                "hottest partition's share",
                float(theory.max() / theory.sum()),
                float(sim_counts.max() / sim_counts.sum()),
                float(real.metrics["hottest_partition_share"]),
            ),
        ]
        return rows

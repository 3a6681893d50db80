"""The hot-partitions twin: the same key sequence, the same partitioner, the same counts.

The real half is :func:`labs.hot_partitions.run_hot_partitions`: Zipf (or uniform) keys sent
to a topic with ``partitions`` partitions by kafka-python's default partitioner; the
per-partition counts are the topic's end offsets. The simulator publishes the lab's very
key sequence (drawn from the seed exactly as the lab draws it) through its own producer,
which partitions with the same murmur2 (:mod:`sim.models.partitioner`).

Theory: the count of partition ``p`` is the number of keys ``k`` in the sequence with
``murmur2(key_bytes(k)) & 0x7fffffff % partitions == p`` -- exactly, in all three columns,
and so is the skew (max/mean). Key salting (the lab's ``salt_buckets``) is not part of the
twin: the simulator's keys are integers and cannot carry a salt suffix.

>>> int(HotPartitionsTwin(partitions=4, rate_per_s=100, window_s=1).theory_counts().sum())
100
"""

from __future__ import annotations

import numpy as np

from labs.experiments.hot_partitions import HOT_PARTITIONS
from labs.twins.calibrate import Calibration
from labs.twins.common import same_keys
from labs.twins.core import Twin
from labs.twins.result import Row
from sim.analysis.metrics import partition_counts, skew
from sim.analysis.result import Result
from sim.models.partitioner import partitions_for


class HotPartitionsTwin(Twin):
    """Per-partition counts of the real topic equal the simulator's and murmur2's, exactly.

    Parameters and ranges: :data:`labs.experiments.hot_partitions.TWIN`.
    """

    EXPERIMENT = HOT_PARTITIONS
    SENDS = "kafka"  # one send() per message, from one thread
    name = "hot_partitions"
    summary = "Zipf keys through murmur2: per-partition counts identical in theory, sim, real"

    def calibrate(self) -> Calibration:
        """The usual measurement, with a modest background load (the lab's consumer is not
        paced by sleeping, and only the Kafka latency enters the scenario)."""
        from labs.twins.calibrate import calibrate

        return calibrate(
            rate_per_s=min(self.rate_per_s, 200.0), service_rate_per_s=self.service_rate_per_s
        )

    def theory_counts(self) -> np.ndarray:
        """murmur2's count per partition for the key sequence."""
        parts = partitions_for(self.workload().keys, self.partitions)
        return np.bincount(parts, minlength=self.partitions)

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

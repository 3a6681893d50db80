"""The partitioners twin: three producers, three placements, each predicted exactly.

The real half is :func:`labs.partitioners.run_partitioners`: the seed's key sequence sent by
kafka-python (murmur2), by confluent-kafka with its default ``consistent_random`` (CRC32)
and by confluent-kafka with ``murmur2_random``, one topic each. The simulator publishes the
same keys three times, its ``Log.partitioner`` set to the matching rule
(:data:`labs.experiments.partitioners.CLIENTS`). Theory: the counts of
:func:`sim.models.partitioner.partitions_for` over the key sequence.

Every count must be equal in all three columns (tolerance: exact), and so must the number of
distinct keys kafka-python and the default confluent-kafka producer put on different
partitions (several hundred of a thousand keys on six partitions: the disagreement the
lab is there to show) and the number kafka-python and ``murmur2_random`` disagree on
(zero). Placement does not depend on timing, so nothing is calibrated.

>>> int(PartitionersTwin(partitions=3, messages=50).theory_counts("confluent-default").sum())
50
"""

from __future__ import annotations

import dataclasses

import numpy as np

from labs.experiments.partitioners import CLIENTS, PARTITIONERS, scenario_for
from labs.partitioners import moved_keys
from labs.twins.calibrate import Calibration
from labs.twins.common import same_keys, simulate
from labs.twins.core import Twin
from labs.twins.result import Row
from sim.analysis.metrics import partition_counts
from sim.analysis.result import Result
from sim.models.partitioner import partitions_for

#: Stands in for a measurement: placement has no timing parameter to calibrate.
NOT_MEASURED = Calibration(
    pubsub_latency_ms=0.5,
    resubscribe_ms=0.0,
    kafka_latency_ms=0.5,
    rejoin_ms=100.0,
    service_rate_per_s=400.0,
    effective_rate_per_s=400.0,
    service_overhead_ms=0.0,
    duration_s=0.0,
    measured_at="not measured: partition placement does not depend on timing",
)


class PartitionersTwin(Twin):
    """Per-partition counts from kafka-python, confluent-kafka default and murmur2_random
    equal the simulator's and the hash's, exactly.

    Parameters and ranges: :data:`labs.experiments.partitioners.TWIN`.
    """

    EXPERIMENT = PARTITIONERS
    name = "partitioners"
    summary = "the same keys from three producers: per-partition counts exact, per client"
    SEND_TIMES_FROM_LAB = False

    def calibrate(self) -> Calibration:
        return NOT_MEASURED

    def theory_counts(self, client: str) -> np.ndarray:
        """The hash's count per partition for the key sequence sent by ``client``."""
        parts = partitions_for(self.workload().keys, self.partitions, CLIENTS[client])
        return np.bincount(parts, minlength=self.partitions)

    def simulate(self, cal: Calibration, real: Result | None = None) -> Result:
        """One simulator run per client; the first one's result carries every client's
        per-partition counts and placements (``messages:<client>:partition:<p>``)."""
        msgs = self.workload()
        runs = {
            client: simulate(
                scenario_for(client, self.timing(cal), **self.lab_values()),
                msgs,
                seed=self.seed,
                name=f"{self.name} (twin, {client})",
            )
            for client in CLIENTS
        }
        metrics = dict(runs["kafka-python"].metrics)
        for client, run in runs.items():
            counts = partition_counts(run.history, self.partitions)
            for p in range(self.partitions):
                metrics[f"messages:{client}:partition:{p}"] = float(counts[p])
        placed = {c: r.history.partition for c, r in runs.items()}
        for other in ("confluent-default", "confluent-murmur2_random"):
            metrics[f"keys_moved:kafka-python:{other}"] = float(
                moved_keys(msgs.keys, placed["kafka-python"], placed[other])
            )
        return dataclasses.replace(runs["kafka-python"], metrics=metrics)

    def compare(self, real: Result, sim: Result, cal: Calibration) -> list[Row]:
        keys = self.workload().keys
        rows = [Row("same key sequence (1 = yes)", 1.0, 1.0, float(same_keys(real.history, keys)))]
        for client in CLIENTS:
            theory = self.theory_counts(client)
            rows += [
                Row(
                    f"{client}: messages in partition {p}",
                    float(theory[p]),
                    sim.metrics[f"messages:{client}:partition:{p}"],
                    real.metrics[f"messages:{client}:partition:{p}"],
                )
                for p in range(self.partitions)
            ]
        hashes = {c: partitions_for(keys, self.partitions, r) for c, r in CLIENTS.items()}
        for other in ("confluent-default", "confluent-murmur2_random"):
            metric = f"keys_moved:kafka-python:{other}"
            rows.append(
                Row(
                    f"keys placed differently: kafka-python vs {other}",
                    float(moved_keys(keys, hashes["kafka-python"], hashes[other])),
                    sim.metrics[metric],
                    real.metrics[metric],
                )
            )
        return rows

    def notes(self) -> tuple[str, ...]:
        return (
            "kafka-python 3.0.12 and the Java producer hash with murmur2; confluent-kafka "
            "2.16.1 (librdkafka 2.16.0) defaults to consistent_random = CRC32 of the key, so "
            "the same key lands elsewhere unless it sets partitioner=murmur2_random.",
        )

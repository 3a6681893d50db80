"""The partitioners twin and the Java check against the real Kafka broker (tests marked
``brokers``: a missing broker fails them, never skips them), and the twin's offline half.

Placement is exact: every per-partition count of kafka-python, confluent-kafka's default
(CRC32) and confluent-kafka's ``murmur2_random`` equals the simulator's and the hash's, and
so do the counts of a topic written by Kafka's own Java console producer.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from labs.experiments.partitioners import CLIENTS, PARTITIONERS, workload
from labs.partitioners import run_java_console_producer
from labs.twins.cli import main
from labs.twins.common import simulate
from labs.twins.partitioners import NOT_MEASURED, PartitionersTwin
from labs.twins.plot import plot
from labs.twins.result import Row, TwinResult
from labs.workload import draw
from sim.analysis.metrics import partition_counts

SETS = [
    {"partitions": 3, "num_keys": 50, "messages": 800, "seed": 4},
    {"partitions": 12, "num_keys": 5000, "messages": 4000, "key_distribution": "zipf", "seed": 9},
    {"partitions": 7, "num_keys": 300, "messages": 1500, "seed": 2},
]


@pytest.mark.brokers
def test_cli_reports_agreement_on_the_defaults_as_json(capsys):
    code = main(["twin", "partitioners", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["agrees"] is True, data
    moved = next(r for r in data["rows"] if "vs confluent-default" in r["metric"])
    assert moved["real"] > 0, "kafka-python and confluent-kafka's default should disagree"


@pytest.mark.brokers
@pytest.mark.parametrize("params", SETS, ids=["p3-k50", "p12-zipf", "p7-k300"])
def test_partitioners_twin_agrees_exactly(params):
    res = PartitionersTwin(**params).run()
    assert res.agrees, "\n" + res.table()
    murmur = res.row("keys placed differently: kafka-python vs confluent-murmur2_random")
    assert murmur.real == 0 == murmur.simulator


@pytest.mark.brokers
@pytest.mark.parametrize("partitions", [3, 6, 10])
def test_java_console_producer_places_keys_as_the_simulator_predicts(partitions):
    java = run_java_console_producer(partitions=partitions, num_keys=500, messages=2000, seed=5)
    msgs = draw(workload(messages=2000, num_keys=500, key_distribution="uniform"), 5)
    assert np.array_equal(java.keys, msgs.keys)
    # The simulator's Log with the Java producer's partitioner (murmur2, the default).
    scenario = PARTITIONERS.build_scenario(partitions=partitions, num_keys=500, messages=2000)
    assert scenario.topology.log.partitioner == "murmur2"
    run = simulate(scenario, msgs, seed=5, name="java check")
    predicted = partition_counts(run.history, partitions)
    assert np.array_equal(java.counts, predicted), (java.counts, predicted)


def test_simulator_half_equals_the_hash_for_every_client_offline():
    t = PartitionersTwin(partitions=5, num_keys=400, messages=2500, seed=3)
    sim_run = t.simulate(NOT_MEASURED)
    for client in CLIENTS:
        got = [sim_run.metrics[f"messages:{client}:partition:{p}"] for p in range(5)]
        assert np.array_equal(got, t.theory_counts(client)), client
    assert sim_run.metrics["keys_moved:kafka-python:confluent-default"] > 0
    assert sim_run.metrics["keys_moved:kafka-python:confluent-murmur2_random"] == 0
    rows = tuple(
        Row(f"messages in partition {p}", c, c, c)
        for p, c in enumerate(t.theory_counts("kafka-python"))
    )
    fig = plot(TwinResult(t.name, t.params(), NOT_MEASURED, sim_run, sim_run, rows))
    assert fig.axes[0].get_title() == "twin partitioners"


def test_docstring_examples_run():
    import doctest

    import labs.twins.partitioners as mod

    failures, tried = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert failures == 0 and tried > 0

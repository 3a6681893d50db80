"""The rebalance twin against the real broker: the defaults and five other parameter sets,
covering every protocol (kafka-python eager and cooperative-sticky, confluent-kafka with
KIP-848's ``group.protocol=consumer``) and both events. A missing broker fails these tests.

Each set takes 10-30 s (the consumer protocol waits for 5 s heartbeats).
"""

from __future__ import annotations

import pytest

from labs.twins.rebalance import RebalanceTwin

pytestmark = pytest.mark.brokers

SETS = [
    {},
    {"protocol": "cooperative", "partitions": 6, "members": 2, "seed": 1},
    {"protocol": "cooperative", "event": "leave", "partitions": 8, "members": 3, "seed": 2},
    {"protocol": "consumer", "partitions": 6, "members": 2, "seed": 3},
    {"protocol": "eager", "event": "leave", "partitions": 5, "members": 2, "seed": 4},
    {"protocol": "consumer", "event": "leave", "partitions": 4, "members": 2, "seed": 5},
]


@pytest.mark.parametrize(
    "params",
    SETS,
    ids=["defaults", "coop-join", "coop-leave", "consumer-join", "eager-leave", "consumer-leave"],
)
def test_rebalance_twin_agrees(params):
    t = RebalanceTwin(**params)
    res = t.run()
    table = "\n" + res.table()
    stopped = res["partitions that stop"]
    assert stopped.real == stopped.simulator == stopped.theory == t.moved(), table
    if t.protocol != "eager":  # the others keep flowing
        assert stopped.real < t.partitions, table
    assert res.agrees, table


def test_the_moved_share_per_protocol():
    # Theory alone (no broker): eager stops all; cooperative and consumer only the share
    # that moves: a joiner's floor(P/(m+1)), a leaver's floor(P/m) (range / sticky).
    assert RebalanceTwin(partitions=6, members=2).moved() == 6
    assert RebalanceTwin(protocol="cooperative", partitions=6, members=2).moved() == 2
    assert RebalanceTwin(protocol="consumer", event="leave", partitions=7, members=3).moved() == 2

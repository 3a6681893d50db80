"""The zombie twin against the real broker: the defaults and three other parameter sets. A
member stalls past max.poll.interval.ms mid-batch; duplicated side effects (the zombie's
and its replacement's) equal theory and the simulator exactly, and the zombie's commit is
rejected. A missing broker fails these tests. Each set takes about 5-6 s.
"""

from __future__ import annotations

import pytest

from labs.twins.zombie import ZombieTwin

pytestmark = pytest.mark.brokers

SETS = [
    {},
    {"messages": 100, "batch": 10, "batches_before": 0, "stall_at": 1, "seed": 1},
    {"messages": 500, "batch": 50, "batches_before": 5, "stall_at": 49, "seed": 2},
    {"messages": 60, "batch": 7, "batches_before": 3, "stall_at": 3, "seed": 3},
]


@pytest.mark.parametrize("params", SETS, ids=["defaults", "first-record", "last-record", "b7"])
def test_zombie_twin_agrees(params):
    t = ZombieTwin(**params)
    res = t.run()
    table = "\n" + res.table()
    want = t.predicted()
    assert res["zombie's side effects after it woke"].real == want["zombie_duplicates"], table
    assert res["duplicated side effects"].real == want["duplicated"], table
    assert res["replacement starts at (last commit)"].real == want["last_commit"], table
    assert res["zombie's commit rejected (1 = yes)"].real == 1, table
    assert res.agrees, table


def test_the_prediction():
    # Theory alone (no broker): the replacement redoes the whole batch from the last commit.
    assert ZombieTwin(batch=10, batches_before=0, stall_at=1).predicted() == {
        "last_commit": 0,
        "zombie_duplicates": 9,
        "duplicated": 10,
    }


@pytest.mark.parametrize("params", SETS)
def test_the_simulator_alone_matches_theory(params):
    # The simulator's half with no broker, for every set, and the module's examples.
    import doctest

    import labs.twins.zombie as module

    t = ZombieTwin(**params)
    sim = t.simulate(t.calibrate())
    want = t.predicted()
    assert sim.metrics["zombie_duplicates:group:0"] == want["zombie_duplicates"]
    assert sim.report["group:0"].duplicated == want["duplicated"]
    assert doctest.testmod(module).failed == 0

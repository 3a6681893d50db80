"""The hot-partitions twin at 100,000 messages and the lag twin on two partitions, against
the real brokers (a missing broker fails them). Per-partition counts are exact in theory,
simulator and real topic; the lag twin keeps its tolerances (peak +-15 %, catch-up +-25 %).

The lag twin's catch-up time is backlog / (mu - lambda): with the paced Python consumer near
this 2-core machine's limit (about 3,500 records/s while Kafka and the producer share the
cores) its rate dips by 10-20 % under load, which at lambda = 2,000, mu = 4,000 moves the
catch-up time by 30 % or more (seen in a fresh-clone run: 4.4 s real vs 3.05 s simulated).
So this test stays well below that limit (lambda = 500, mu = 1,500). The lag twin accepts
2,000 msg/s and 30 s windows (tests/twins/test_twin_ranges.py runs it at 30 s).
"""

from __future__ import annotations

import numpy as np
import pytest
from lag_checks import assert_lag_agrees

from labs.twins import HotPartitionsTwin, LagTwin

pytestmark = pytest.mark.brokers


def test_hot_partitions_twin_counts_are_identical_at_100000_messages():
    t = HotPartitionsTwin(rate_per_s=2500.0, window_s=40.0, service_rate_per_s=2000.0, seed=1)
    res = t.run()
    assert res.real.history.messages == 100_000, res  # (its table, calibration and notes)
    real = np.array([res.real.metrics[f"messages:partition:{p}"] for p in range(t.partitions)])
    sim = np.bincount(res.simulator.history.partition, minlength=t.partitions)
    assert np.array_equal(real, sim) and np.array_equal(sim, t.theory_counts()), res
    assert np.array_equal(res.real.history.keys, res.simulator.history.keys)
    assert res.agrees, res


def test_lag_twin_agrees_on_two_partitions():
    res = LagTwin(
        rate_per_s=500.0,
        window_s=12.0,
        down_from_s=3.0,
        down_for_s=3.0,
        service_rate_per_s=1500.0,
        partitions=2,
        seed=2,
    ).run()
    assert res.real.report["group:0"].lost == 0 == res.simulator.report["group:0"].lost
    assert_lag_agrees(res)

"""Twins against the real brokers: the acceptance tolerances, three or more parameter sets
per twin (not only the defaults). A missing broker fails these tests; it never skips them.

Each run calibrates on the real brokers first (about two seconds), so the simulator's
timing is measured, not typed in.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from labs.twins import HotPartitionsTwin, IdempotencyTwin, LagTwin, LossTwin, run_twin
from labs.twins.cli import main

pytestmark = pytest.mark.brokers


def _explain(result) -> str:
    return "\n" + result.table()


LOSS_SETS = [
    {},
    {
        "rate_per_s": 300.0,
        "window_s": 3.0,
        "down_from_s": 0.5,
        "down_for_s": 0.6,
        "service_rate_per_s": 600.0,
        "partitions": 3,
        "arrivals": "poisson",
        "seed": 7,
    },
    {
        "rate_per_s": 100.0,
        "window_s": 5.0,
        "down_from_s": 2.0,
        "down_for_s": 2.5,
        "service_rate_per_s": 250.0,
        "partitions": 2,
        "seed": 3,
    },
]


@pytest.mark.parametrize("params", LOSS_SETS, ids=["defaults", "poisson-f0.2", "f0.5"])
def test_loss_twin_agrees(params):
    t = LossTwin(**params)
    res = t.run()
    f = t.theory()["loss_fraction"]
    real = res.real.report["subscriber:0"].loss_fraction
    sim = res.simulator.report["subscriber:0"].loss_fraction
    assert abs(real - sim) <= 0.03, _explain(res)
    assert abs(real - f) <= 0.05 and abs(sim - f) <= 0.05, _explain(res)
    assert res.real.report["group:0"].lost == 0 == res.simulator.report["group:0"].lost
    assert res.agrees, _explain(res)


LAG_SETS = [
    {},
    {
        "rate_per_s": 12.0,
        "window_s": 5.0,
        "down_from_s": 0.5,
        "down_for_s": 3.0,
        "service_rate_per_s": 50.0,
        "partitions": 2,
        "seed": 5,
    },
    {
        "rate_per_s": 20.0,
        "window_s": 5.0,
        "down_from_s": 1.0,
        "down_for_s": 2.0,
        "service_rate_per_s": 80.0,
        "arrivals": "poisson",
        "seed": 11,
    },
]


@pytest.mark.parametrize("params", LAG_SETS, ids=["defaults", "2-partitions", "poisson"])
def test_lag_twin_agrees(params):
    res = LagTwin(**params).run()
    assert res.real.report["group:0"].lost == 0 == res.simulator.report["group:0"].lost
    peak, catch_up = res["peak lag (messages)"], res["catch-up time (s)"]
    assert abs(peak.real - peak.simulator) <= 0.15 * peak.simulator, _explain(res)
    assert abs(catch_up.real - catch_up.simulator) <= 0.25 * catch_up.simulator, _explain(res)
    assert res.agrees, _explain(res)


HOT_SETS = [
    {},
    {
        "key_distribution": "uniform",
        "partitions": 4,
        "rate_per_s": 500.0,
        "window_s": 1.0,
        "num_keys": 50,
        "seed": 3,
    },
    {
        "zipf_s": 2.0,
        "partitions": 12,
        "rate_per_s": 800.0,
        "window_s": 1.0,
        "num_keys": 10000,
        "seed": 42,
    },
]


@pytest.mark.parametrize("params", HOT_SETS, ids=["defaults", "uniform-4", "zipf2-12"])
def test_hot_partitions_twin_counts_are_identical(params):
    t = HotPartitionsTwin(**params)
    res = t.run()
    theory = t.theory_counts()
    real = np.array([res.real.metrics[f"messages:partition:{p}"] for p in range(t.partitions)])
    sim = np.bincount(res.simulator.history.partition, minlength=t.partitions)
    assert np.array_equal(real, sim) and np.array_equal(sim, theory), _explain(res)
    assert res.real.metrics["partition_skew"] == res.simulator.metrics["partition_skew"]
    assert np.array_equal(res.real.history.keys, res.simulator.history.keys)
    assert res.agrees, _explain(res)


IDEMPOTENCY_SETS = [
    {},
    {"messages": 60, "crash_after": 30, "commit_every": 10, "seed": 1},  # at a commit boundary
    {"messages": 200, "crash_after": 77, "commit_every": 50, "num_keys": 3, "seed": 2},
    {"messages": 40, "crash_after": 7, "commit_every": 1, "seed": 9},
]


@pytest.mark.parametrize(
    "params", IDEMPOTENCY_SETS, ids=["defaults", "boundary", "no-commit-yet", "commit-each"]
)
def test_idempotency_twin_duplicates_match_the_prediction(params):
    t = IdempotencyTwin(**params)
    res = t.run()
    predicted = t.predicted_duplicates()
    assert res.real.report["group:commit-after"].duplicated == predicted, _explain(res)
    assert res.simulator.report["group:0"].duplicated == predicted, _explain(res)
    assert res.real.report["group:idempotent"].duplicated == 0, _explain(res)
    assert res.simulator.report["group:1"].duplicated == 0, _explain(res)
    assert res.agrees, _explain(res)


def test_notebook_function_records_the_calibration():
    res = run_twin("idempotency", messages=30, crash_after=14, commit_every=4, seed=5)
    cal = res.calibration
    assert cal.rejoin_ms > 0 and cal.kafka_latency_ms > 0 and cal.effective_rate_per_s > 0
    assert res.simulator.params["consumers"]["groups"][0]["rebalance_ms"] == cal.rejoin_ms
    assert "agree" in res._repr_html_()


def test_cli_prints_json_and_exits_zero_when_they_agree(capsys):
    code = main(["twin", "idempotency", "--crash_after", "12", "--commit_every", "5", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["agrees"] is True, data["rows"]
    assert data["params"]["crash_after"] == 12
    assert {"theory", "simulator", "real", "difference", "tolerance"} <= set(data["rows"][0])

"""The cache-staleness twin: a client-side cache kept across a reconnect on real Redis
serves exactly the stale reads the model replays for the same operations, within 4
standard deviations of the theory; flushed, none. About 6 s per set against the broker."""

from __future__ import annotations

import doctest

import pytest

import labs.twins.cache_staleness as module
from labs.twins import twin
from labs.twins.cache_staleness import CacheStalenessTwin

SETS = [
    {},
    {"cache_keys": 20, "updates_per_s": 10.0, "cache_down_s": 0.5, "read_for_s": 1.0, "seed": 3},
    {"tracking": "bcast", "seed": 5},
]


@pytest.mark.brokers
@pytest.mark.parametrize("params", SETS, ids=["defaults", "small", "bcast"])
def test_real_and_simulated_stale_reads_agree(params):
    res = CacheStalenessTwin(**params).run()
    table = "\n" + res.table()
    row = res["stale reads without the flush"]
    assert row.real == row.simulator > 0, table
    assert res["stale reads with the flush"].real == 0, table
    assert res.agrees, table


def test_the_simulator_alone_against_the_theory():
    # No broker: the simulator's half, its rows against the theory, and the examples.
    t = twin("cache-staleness", seed=1)
    sim = t.simulate(t.calibrate())
    m = sim.metrics
    assert abs(m["stale_reads_without_flush"] - t.theory()["stale_reads_without_flush"]) <= (
        t.theory_band()
    )
    assert m["stale_reads_with_flush"] == 0
    assert m["gaps_detected:subscriber:0"] == 1 and m["still_missing:subscriber:0"] == 0
    assert doctest.testmod(module).failed == 0


def test_the_theory_band_is_four_standard_deviations_of_the_model():
    band = CacheStalenessTwin().theory_band()
    # Stale reads of one run vary by more than a Poisson count (reads of one key are
    # correlated): the band is wider than 4 sqrt(mean) but well inside the mean.
    mean = CacheStalenessTwin().theory()["stale_reads_without_flush"]
    assert 4 * mean**0.5 < band < mean


def test_bad_parameters_name_the_parameter():
    with pytest.raises(ValueError, match="cache_keys"):
        CacheStalenessTwin(cache_keys=0)


def test_the_twin_figure_follows_the_house_style():
    # Offline: the simulated run stands in for the real one (as in test_twins_offline).
    from labs.twins.plot import plot
    from labs.twins.result import TwinResult
    from sim.analysis.style import problems

    t = CacheStalenessTwin()
    run = t.simulate(t.calibrate())
    stale = float(run.metrics["stale_reads_without_flush"])
    rows = (
        module.Row("stale reads without the flush", stale, stale, stale),
        module.Row("stale reads with the flush", 0.0, 0.0, 0.0),
    )
    fig = plot(TwinResult(t.name, t.params(), t.calibrate(), run, run, rows))
    assert problems(fig) == []
    assert len(fig.axes[0].patches) == 6  # two rows, three bars each


def test_the_models_defaults_are_the_labs():
    # Lesson 14's figure leaves the parameters it has no slider for at the model's
    # defaults: they must be the lab's, declared in labs/experiments/reconnect.py.
    from labs.experiments import RECONNECT
    from sim.models.client_cache import CacheScenario

    assert CacheScenario.from_lab(**RECONNECT.defaults()) == CacheScenario()

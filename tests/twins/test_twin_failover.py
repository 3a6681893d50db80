"""The failover twin: acknowledged writes lost on a failover, real redis-server vs the
simulator, at two write rates; none with WAIT. The real half needs the ``redis-server``
program only (the lab starts its own servers)."""

from __future__ import annotations

import numpy as np
import pytest

from labs.stack import private_redis
from labs.twins.failover import FailoverCalibration, FailoverTwin
from labs.twins.registry import twin


def test_real_and_simulator_agree_at_two_rates():
    result = twin("failover").run()
    assert result.agrees, result.table()
    for rate in (200, 1000):
        assert result[f"lost on failover at {rate}/s"].real > 0
        assert result[f"lost with WAIT at {rate}/s"].real == 0
    assert private_redis.leftovers() == ()


def test_other_rates_and_lag_agree():
    result = FailoverTwin(
        records=20, rate_per_s=300.0, high_rate_per_s=1500.0, lag_ms=40.0, kill_after_s=1.0
    ).run()
    assert result.agrees, result.table()


def test_simulator_half_follows_the_theory_offline():
    # A fixed calibration (a constant 100 ms link): no redis needed.
    t = FailoverTwin()
    cal = FailoverCalibration(link_lag_p50_ms=100.0, link_lag_p99_ms=100.0)
    sim = t.simulate(cal)
    assert sim.metrics["lost:async:low"] == pytest.approx(200 * 0.1, abs=2)
    assert sim.metrics["lost:async:high"] == pytest.approx(1000 * 0.1, abs=6)
    assert sim.metrics["lost:wait:low"] == sim.metrics["lost:wait:high"] == 0
    assert sim.report["async:high"].lost == sim.metrics["lost:async:high"]


def test_calibrated_lag_reproduces_the_measured_spread():
    lag = FailoverCalibration(link_lag_p50_ms=100.0, link_lag_p99_ms=106.0).lag
    draws = lag.draw(np.random.default_rng(0), 200_000) * 1000
    assert np.percentile(draws, 50) == pytest.approx(100.0, abs=0.1)
    assert np.percentile(draws, 99) == pytest.approx(106.0, abs=0.2)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match='"lag_ms"'):
        FailoverTwin(lag_ms=5000.0)

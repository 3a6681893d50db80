"""The persistence and failover model (sim.models.replication) against its theory."""

from __future__ import annotations

import numpy as np
import pytest

from sim.models.replication import (
    Lag,
    expected_failover_loss,
    restart_loss,
    simulate_failover,
)


@pytest.mark.parametrize(
    ("policy", "crash", "lost"),
    [
        ("no-aof", "process", 600),
        ("no-aof", "power", 600),
        ("everysec", "process", 0),
        ("always", "process", 0),
        ("always", "power", 0),
        ("everysec", "power", 100),  # the last 1 s of 6 s of writes
    ],
)
def test_restart_loss_per_policy_and_crash(policy, crash, lost):
    assert restart_loss(policy, crash=crash, acked=600, duration_s=6.0) == lost


def test_everysec_power_loss_within_a_second_loses_everything_written():
    assert restart_loss("everysec", crash="power", acked=50, duration_s=0.5) == 50


@pytest.mark.parametrize("rate", [50.0, 200.0, 1000.0, 3000.0])
@pytest.mark.parametrize("lag_ms", [20.0, 100.0, 400.0])
def test_constant_lag_loses_rate_times_lag(rate, lag_ms):
    # Theory: the writes acknowledged in the last `lag` before the kill. The writer sends
    # every tick (5 ms): the window's edges fall inside a batch, so the simulated count may
    # differ by one batch (rate * tick) plus one write at each edge.
    run = simulate_failover(rate_per_s=rate, lag=Lag(lag_ms), kill_s=2.0, seed=3)
    theory = expected_failover_loss(rate_per_s=rate, lag_ms=lag_ms)
    assert abs(run.lost - theory) <= rate * 0.005 + 2
    # The lost ones are exactly the last acknowledged: nothing older is missing.
    acked = np.flatnonzero(np.isfinite(run.acked_at))
    missing = acked[~run.on_replica[acked]]
    assert missing.size == run.lost
    if missing.size:
        assert missing.min() > acked[run.on_replica[acked]].max()


def test_a_jittery_link_loses_rate_times_its_mean_lag():
    # Exponential jitter of mean j: the replica is behind by c + j on average, so the
    # mean loss over seeds is rate * (c + j) (within 3 standard errors of the seeds' mean).
    rate, lag = 500.0, Lag(50.0, 30.0)
    lost = [simulate_failover(rate_per_s=rate, lag=lag, kill_s=1.0, seed=s).lost for s in range(60)]
    theory = expected_failover_loss(rate_per_s=rate, lag_ms=lag.mean_ms)
    se = np.std(lost) / np.sqrt(len(lost))
    assert abs(np.mean(lost) - theory) <= 3 * se + rate * 0.005


@pytest.mark.parametrize("rate", [100.0, 1000.0])
def test_wait_loses_nothing_confirmed_and_costs_a_round_trip(rate):
    lag = Lag(80.0)
    run = simulate_failover(rate_per_s=rate, lag=lag, kill_s=1.5, wait=True, seed=1)
    plain = simulate_failover(rate_per_s=rate, lag=lag, kill_s=1.5, seed=1)
    assert run.lost == 0 and run.acked > 0
    assert plain.lost > 0
    # Every confirmed write waited at least the round trip (2 x 80 ms) after its send.
    assert run.latency_ms(0) >= 160.0
    assert run.latency_ms(50) > plain.latency_ms(50) + 160.0 - 1e-6


def test_zero_lag_loses_nothing():
    assert simulate_failover(rate_per_s=1000.0, lag=Lag(0.0), kill_s=1.0).lost == 0


def test_seeded():
    a = simulate_failover(rate_per_s=300.0, lag=Lag(20.0, 10.0), kill_s=1.0, seed=7)
    b = simulate_failover(rate_per_s=300.0, lag=Lag(20.0, 10.0), kill_s=1.0, seed=7)
    assert a.lost == b.lost and np.array_equal(a.acked_at, b.acked_at, equal_nan=True)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: restart_loss("sometimes", crash="process", acked=1, duration_s=1), "policy"),
        (lambda: restart_loss("always", crash="meteor", acked=1, duration_s=1), "crash"),
        (lambda: simulate_failover(rate_per_s=0.0, lag=Lag(1.0), kill_s=1.0), "rate_per_s"),
        (lambda: Lag(-1.0), "constant_ms"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()

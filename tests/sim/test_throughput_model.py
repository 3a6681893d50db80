"""The throughput model against queueing theory (no brokers).

- Without stalls a constant rate through a constant cost is D/D/1: no wait below the
  capacity ``1 / c``, and the saturation rate is that capacity (bisection: within 3 %).
- At a low rate the model gives back the latency distribution it was calibrated on (the
  stalls are built so that their residual at a random instant is the measured tail): p99
  and p99.9 within 15 % over 200 s (the transit part is drawn apart from the stall part,
  which smooths the body's edge; the tail stays).
- Below saturation, the tail follows the fluid theory of a thread with Poisson stalls
  (:func:`sim.models.throughput.theory_percentile`): within 15 % at ``rho = 0.1`` and
  ``0.5`` over 400 s -- overlapping stalls, which the theory neglects, stay rare there.
- A Kafka producer's ``linger.ms``: a lone message waits all of it (so the low-rate
  latency holds it), at a rate that fills no batch the median message waits half of it.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.models.request_cycles import Cycle, cycles_delay_s
from sim.models.throughput import (
    ClientCosts,
    ClientModel,
    LatencyShape,
    batch_departures,
    capacity_per_s,
    saturation_rate,
    simulate_point,
    theory_percentile,
)

TAIL = LatencyShape.from_percentiles(p50=0.4, p95=1.5, p99=5.0, p999=20.0, max_ms=40.0)
FLAT = LatencyShape((0.0, 1.0), (1.0, 1.0))


def test_without_stalls_nothing_queues_below_capacity_and_saturation_is_one_over_c():
    m = ClientModel(FLAT, ClientCosts(per_message_us=100.0, max_batch=1))
    assert capacity_per_s(m) == pytest.approx(10_000.0)
    for rate in (100.0, 5000.0, 9500.0):
        p = simulate_point(m, rate, duration_s=2.0, seed=1)
        assert not p.saturated
        assert p.p99_ms == pytest.approx(1.0, abs=0.11)  # transit + at most one service
    # overloaded, it delivers the capacity -- counted as the lab counts it: what arrived by
    # 1.25 x the point's length, per second over which it was sent
    for offered in (11_000.0, 20_000.0):
        over = simulate_point(m, offered, duration_s=2.0, seed=1)
        assert over.saturated
        assert over.achieved_rate_per_s == pytest.approx(10_000.0, rel=0.01)
    assert saturation_rate(m, seed=1) == pytest.approx(10_000.0, rel=0.03)


def test_batches_share_the_per_batch_cost():
    # All due at once: full batches of 4 at 10 + 4 x 1 us each.
    costs = ClientCosts(per_message_us=1.0, per_batch_us=10.0, max_batch=4)
    d = batch_departures(np.zeros(8), costs)
    assert np.allclose(d, [14e-6] * 4 + [28e-6] * 4)
    # Spaced out: one message per wake-up.
    assert np.allclose(batch_departures(np.array([0.0, 1.0]), costs), [11e-6, 1.0 + 11e-6])


def test_low_rate_gives_back_the_calibration():
    m = ClientModel(TAIL, ClientCosts(per_message_us=10.0))
    p = simulate_point(m, 200.0, duration_s=200.0, seed=4)
    assert p.p99_ms == pytest.approx(5.0, rel=0.15)
    assert p.p999_ms == pytest.approx(20.0, rel=0.15)
    assert p.p50_ms == pytest.approx(0.4, rel=0.15)


@pytest.mark.parametrize("rho", [0.1, 0.5])
def test_tail_below_saturation_follows_the_fluid_theory(rho):
    # c = 200 us: drain rate 5000/s; stalls (ms) are long next to c, as the theory assumes.
    m = ClientModel(TAIL, ClientCosts(per_message_us=200.0, max_batch=1))
    rate = rho * 5000.0
    p = simulate_point(m, rate, duration_s=400.0, seed=2)
    assert p.p99_ms == pytest.approx(theory_percentile(m, 0.99, rate), rel=0.15)
    assert p.p999_ms == pytest.approx(theory_percentile(m, 0.999, rate), rel=0.15)
    assert p.p99_ms > simulate_point(m, 50.0, duration_s=400.0, seed=2).p99_ms or rho < 0.3


def test_linger_lone_messages_wait_all_of_it_busy_ones_half():
    m = ClientModel(FLAT.__class__((0.0, 1.0), (6.0, 6.0)), ClientCosts(1.0), linger_ms=5.0)
    assert simulate_point(m, 20.0, duration_s=5.0, seed=1).p50_ms == pytest.approx(6.0, abs=0.05)
    busy = simulate_point(m, 10_000.0, duration_s=2.0, seed=1)  # 50 per batch of room for 160
    assert busy.p50_ms == pytest.approx(6.0 - 2.5, abs=0.1)


def test_seeded_and_deterministic():
    m = ClientModel(TAIL, ClientCosts(per_message_us=20.0, per_batch_us=50.0))
    a = simulate_point(m, 3000.0, duration_s=1.0, seed=7)
    assert a == simulate_point(m, 3000.0, duration_s=1.0, seed=7)
    assert a != simulate_point(m, 3000.0, duration_s=1.0, seed=8)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: ClientCosts(per_message_us=0.0), "per_message_us"),
        (lambda: ClientCosts(1.0, max_batch=0), "max_batch"),
        (lambda: LatencyShape((0.0, 0.5), (1.0, 2.0)), "probs"),
        (lambda: LatencyShape((0.0, 1.0), (2.0, 1.0)), "values_ms"),
        (
            lambda: simulate_point(ClientModel(FLAT, ClientCosts(1.0)), 0.0, duration_s=1, seed=0),
            "rate_per_s",
        ),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=f'"{name}"'):
        call()


def test_costs_from_cold_and_warm_wake_ups_scaled_to_the_time_not_stalled():
    cold, warm, full = (1.1, 292.0), (2.0, 160.0), (64.0, 1400.0)
    got = ClientCosts.from_wake_ups(cold=cold, warm=warm, full=full)
    assert got.per_message_us == pytest.approx(20.0)  # the slope from warm to full
    assert got.per_batch_us == pytest.approx(120.0)  # warm: 160 - 2 x 20
    assert got.cold_us == pytest.approx(150.0)  # 292 - 1.1 x 20 - 120
    # a warm burst dearer than the cold wake-ups (the receiving thread holds the GIL in
    # between): the warm cost stands, nothing more after a sleep
    dear = ClientCosts.from_wake_ups(cold=(1.0, 150.0), warm=(2.0, 200.0), full=full)
    slope = (1400.0 - 200.0) / 62
    assert dear.cold_us == 0.0 and dear.per_batch_us == pytest.approx(200.0 - 2 * slope)
    s = TAIL.stalled_share()
    scaled = ClientCosts.from_wake_ups(cold=cold, warm=warm, full=full, stalled_share=s)
    for name in ("per_batch_us", "cold_us", "per_message_us"):
        assert getattr(scaled, name) == pytest.approx((1 - s) * getattr(got, name))
    # the simulated thread is stalled a share s, the measured busy one hardly: the capacity
    # is the full burst's
    assert capacity_per_s(ClientModel(TAIL, scaled)) == pytest.approx(64 / 1400e-6)
    for bad, name in (
        (dict(cold=(1.0,), warm=warm, full=full), '"cold"'),
        (dict(cold=cold, warm=(2.0, float("nan")), full=full), '"warm"'),
        (dict(cold=cold, warm=warm, full=(2.0, 300.0)), '"full"'),
        (dict(cold=cold, warm=warm, full=full, stalled_share=1.5), '"stalled_share"'),
    ):
        with pytest.raises(ValueError, match=name):
            ClientCosts.from_wake_ups(**bad)


def test_a_wake_up_after_a_sleep_is_cold_back_to_back_warm_and_saturation_is_the_warm_drain():
    costs = ClientCosts(20.0, 200.0, cold_us=130.0)
    d = batch_departures(np.array([0.0, 1.0, 1.0 + 1e-9]), costs)
    assert np.allclose(np.diff(d, prepend=0.0), [350e-6, 1.0, 220e-6], atol=1e-9)
    m = ClientModel(FLAT, costs)
    assert capacity_per_s(m) == pytest.approx(64 / (200e-6 + 64 * 20e-6))
    assert saturation_rate(m, seed=3) == pytest.approx(capacity_per_s(m), rel=0.03)
    # below 1 / (b + w + c) = 2857 msg/s every message has a cold wake-up to itself, as at
    # the calibration rates; past 1 / (b + c) = 4545 the loop never sleeps; in between, the
    # mix: a warm wake-up now and then makes the median no higher than the low-rate one
    low = simulate_point(m, 200.0, duration_s=2.0, seed=5).p50_ms
    assert simulate_point(m, 2500.0, duration_s=2.0, seed=5).p50_ms == pytest.approx(low)
    assert simulate_point(m, 3500.0, duration_s=2.0, seed=5).p50_ms <= low + 1e-9
    for rate in (8000.0, 16_000.0):
        p = simulate_point(m, rate, duration_s=2.0, seed=5)
        assert p.p50_ms == pytest.approx(theory_percentile(m, 0.5, rate), rel=0.05)


@pytest.mark.parametrize("rate", [2000.0, 4000.0, 8000.0, 16_000.0, 30_000.0])
def test_the_body_rises_once_the_send_loop_no_longer_sleeps(rate):
    # b + c = 220 us: one wake-up per message up to 4545 msg/s, then cycles of b / (1 - lambda c)
    m = ClientModel(FLAT, ClientCosts(per_message_us=20.0, per_batch_us=200.0))
    p = simulate_point(m, rate, duration_s=2.0, seed=5)
    for name, q in (("p50_ms", 0.5), ("p99_ms", 0.99)):
        assert getattr(p, name) == pytest.approx(theory_percentile(m, q, rate), rel=0.05)
    flat = rate * 220e-6 <= 1.0
    assert (p.p50_ms == pytest.approx(1.0, abs=0.01)) == flat


@pytest.mark.parametrize("rate", [1000.0, 4000.0, 7000.0])
def test_a_request_cycle_runs_b_over_one_minus_lambda_c_and_adds_its_growth(rate):
    # a fetch-like stage: 5 ms a cycle and 100 us a message; under a constant rate a busy
    # stage's cycle is T = b / (1 - lambda c) (5.0, 8.3, 16.7 ms) and a message spends the
    # rest of the cycle under way and then its own: 1.5 T on average
    cyc = Cycle("receive", per_cycle_us=5000.0, per_message_us=100.0)
    arrivals = np.arange(int(rate * 20)) / rate
    out = cyc.departures(arrivals)
    cycles = np.diff(np.unique(out))[20:]  # past the start-up
    assert np.median(cycles) == pytest.approx(cyc.cycle_s(rate), rel=0.05)
    assert cycles_delay_s([cyc], rate) == pytest.approx(1.5 * cyc.cycle_s(rate), rel=0.1)
    # in the model, the low-rate latency holds the cycles as they ran at its rate: at that
    # rate the median is the calibrated one, above it the median grows as the theory says
    m = ClientModel(FLAT, ClientCosts(per_message_us=1.0), cycles=(cyc,), low_rate_per_s=1000.0)
    p = simulate_point(m, rate, duration_s=5.0, seed=1)
    assert p.p50_ms == pytest.approx(theory_percentile(m, 0.5, rate), rel=0.1)
    assert capacity_per_s(m) == pytest.approx(cyc.drain_rate_per_s())


def test_a_cycle_from_its_requests_and_none_for_a_stage_that_did_not_batch():
    # T = k / lambda at each point and T = b + k c: low-rate 6 and 11 messages a request at
    # 1,000 and 2,000 msg/s (5.75 ms median), the burst 400 at 9,000 msg/s (44.4 ms)
    cyc = Cycle.from_batches("receive", low=[(1000.0, 6.0), (2000.0, 11.0)], busy=(9000.0, 400.0))
    assert cyc is not None
    t_low, t_busy = 5.75e-3, 400 / 9000
    c = (t_busy - t_low) / (400 - 8.5)
    assert cyc.per_message_us == pytest.approx(1e6 * c)
    assert cyc.per_cycle_us == pytest.approx(1e6 * (t_low - 8.5 * c))
    assert (
        Cycle.from_batches("receive", low=[(1000.0, 1.03), (2000.0, 1.16)], busy=(9e3, 90.0))
        is None
    )
    with pytest.raises(ValueError, match='"low"'):
        Cycle.from_batches("receive", low=[(1000.0, 0.0)], busy=(9e3, 90.0))
    with pytest.raises(ValueError, match='"per_cycle_us"'):
        Cycle("receive", per_cycle_us=0.0)


def test_the_interpreter_bounds_the_process_below_a_faster_send_loop():
    # the send loop alone drains 50,000 msg/s (20 us a message in full batches), but every
    # message costs the process 100 us of its one interpreter: D/D/1 at 1 / 100 us
    send = ClientCosts(per_message_us=20.0, per_batch_us=10.0)
    cpu = Cycle.interpreter(100.0)
    m = ClientModel(FLAT, send, cycles=(cpu,), low_rate_per_s=1000.0)
    assert capacity_per_s(ClientModel(FLAT, send)) > 45_000.0
    assert capacity_per_s(m) == pytest.approx(10_000.0, rel=1e-6)
    # counted as the lab counts a point: a sender that keeps up sends the whole point in
    # time, and the interpreter behind it still delivers its own rate -- not what it works
    # off in the sender's slack (which read up to 1.25 x its rate as delivered before)
    assert not simulate_point(m, 8000.0, duration_s=2.0, seed=1).saturated
    behind = simulate_point(m, 12_000.0, duration_s=2.0, seed=1)
    assert behind.saturated and behind.achieved_rate_per_s == pytest.approx(10_000.0, rel=0.01)
    assert saturation_rate(m, seed=1) == pytest.approx(10_000.0, rel=0.01)
    # below it, a constant rate never queues: the latency is the calibrated one (1 ms; the
    # low-rate latency holds the interpreter's 0.1 ms)
    p = simulate_point(m, 8000.0, duration_s=2.0, seed=1)
    assert not p.saturated and p.p99_ms == pytest.approx(1.0, abs=0.03)
    # a batch that arrives at once leaves one message at a time, 100 us apart
    assert np.allclose(np.diff(cpu.departures(np.zeros(5))), 100e-6)
    with pytest.raises(ValueError, match='"per_message_us"'):
        Cycle.interpreter(-1.0)

"""Twins without brokers: parameter validation, the simulator half against the theory, and
the result record (table, HTML, JSON). A fixed calibration stands in for the measured one."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from offline_calibration import FIXED

from labs.twins import (
    HotPartitionsTwin,
    IdempotencyTwin,
    LagTwin,
    LossTwin,
    Row,
    TwinResult,
    twin,
)
from labs.twins.cli import main
from labs.twins.common import lag_stats

CAL = FIXED


@pytest.mark.parametrize(
    ("cls", "params", "name"),
    [
        (LossTwin, {"rate_per_s": 20000}, "rate_per_s"),
        (LossTwin, {"down_for_s": 3.0}, "down_for_s"),
        (LossTwin, {"service_rate_per_s": 250.0}, "service_rate_per_s"),
        (LossTwin, {"arrivals": "bursty"}, "arrivals"),
        (LagTwin, {"seed": -1}, "seed"),
        (HotPartitionsTwin, {"partitions": 0}, "partitions"),
        (HotPartitionsTwin, {"key_distribution": "hot"}, "key_distribution"),
        (IdempotencyTwin, {"crash_after": 100}, "crash_after"),
        (IdempotencyTwin, {"commit_every": 0}, "commit_every"),
    ],
)
def test_bad_parameters_name_the_parameter_and_range(cls, params, name):
    with pytest.raises(ValueError, match=f'"{name}"'):
        cls(**params)


def test_unknown_parameter_and_twin_names_fail_loudly():
    with pytest.raises(ValueError, match="no parameter"):
        twin("loss", rate=10)
    with pytest.raises(ValueError, match='"name"'):
        twin("nope")
    assert type(twin("replay")) is LagTwin
    assert type(twin("hot-partitions")) is HotPartitionsTwin


def test_cli_rejects_bad_parameters_before_touching_a_broker(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["twin", "loss", "--down_for_s", "9"])
    assert exc.value.code == 2
    assert '"down_for_s"' in capsys.readouterr().err


def test_cli_lists_the_twins(capsys):
    assert main(["twin", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("loss", "lag", "hot_partitions", "idempotency", "--crash_after"):
        assert name in out


@pytest.mark.parametrize("k", range(1, 40))
@pytest.mark.parametrize("c", [1, 3, 10, 40])
def test_simulated_duplicates_equal_the_prediction_for_every_crash_point(k, c):
    t = IdempotencyTwin(messages=40, crash_after=k, commit_every=c)
    sim = t.simulate(CAL)
    assert sim.report["group:0"].duplicated == t.predicted_duplicates(), (
        f"crash after {k}, commit every {c}: the simulated restart must reprocess exactly "
        "what came after the last commit"
    )
    assert sim.report["group:0"].lost == 0
    assert sim.report["group:1"].duplicated == 0, "the dedupe store must absorb redeliveries"
    assert sim.report["group:1"].lost == 0


@pytest.mark.parametrize(
    "params",
    [{}, {"key_distribution": "uniform", "partitions": 4, "num_keys": 50, "seed": 3}],
)
def test_simulated_partition_counts_are_murmur2s(params):
    t = HotPartitionsTwin(**params)
    sim = t.simulate(CAL)
    counts = np.bincount(sim.history.partition, minlength=t.partitions)
    assert np.array_equal(counts, t.theory_counts())
    assert np.array_equal(sim.history.keys, t.workload().keys)


@pytest.mark.parametrize("arrivals", ["constant", "poisson"])
def test_simulated_loss_is_near_the_down_fraction(arrivals):
    t = LossTwin(arrivals=arrivals, seed=4)
    sim = t.simulate(CAL)
    f = t.theory()["loss_fraction"]
    assert abs(sim.report["subscriber:0"].loss_fraction - f) <= 0.05
    assert sim.report["group:0"].lost == 0


def test_the_simulated_subscriber_is_away_exactly_when_the_real_one_was():
    # A real run whose subscriber thread woke 180 ms late (a stall on a busy machine): its
    # connection closed at 1.0 s, the new SUBSCRIBE went out at 2.68 s (planned: 2.5 s) and
    # was confirmed 6 ms later. The simulator must miss the sends of that window, not of the
    # planned one (300 messages).
    t = LossTwin()
    metrics = {
        "closed_at_s:subscriber:0": 1.0,
        "subscribing_at_s:subscriber:0": 2.68,
        "down_s:subscriber:0": 1.686,
    }
    real_like = dataclasses.replace(t.simulate(CAL), metrics=metrics)
    cal = t.measured_in_run(CAL, real_like)
    assert cal.subscriber_down_for_run == pytest.approx((1.0, 1.68))
    assert cal.resubscribe_for_run_ms == pytest.approx(6.0)
    sends = t.workload().publish_time
    expected = int(((sends >= 1.0) & (sends < 2.686)).sum())
    assert expected == 338
    assert t.simulate(cal).report["subscriber:0"].lost == expected
    assert t.simulate(CAL).report["subscriber:0"].lost == int(
        ((sends >= 1.0) & (sends < 2.5 + CAL.resubscribe_ms / 1000)).sum()
    )
    assert any("really away from 1.000 s to 2.686 s" in n for n in t.run_notes(real_like))


def test_simulated_lag_follows_the_calibrated_theory():
    t = LagTwin()
    sim = t.simulate(CAL)
    stats = lag_stats(sim, "group:0")
    mu = 1000.0 / CAL.service_ms(t.service_rate_per_s)
    backlog = t.rate_per_s * (t.down_for_s + CAL.rejoin_ms / 1000.0)
    assert stats.peak == pytest.approx(backlog, rel=0.05)
    assert stats.catch_up_s == pytest.approx(0.8 * backlog / (mu - t.rate_per_s), rel=0.1)


def test_row_agreement_rules():
    assert Row("x", 0.375, 0.37, 0.39, tolerance=0.03, theory_tolerance=0.05).agrees
    assert not Row("x", 0.375, 0.37, 0.41, tolerance=0.03).agrees
    assert not Row("x", 0.2, 0.30, 0.30, tolerance=0.03, theory_tolerance=0.05).agrees
    assert Row("x", None, 100.0, 114.0, tolerance=0.15, relative=True).agrees
    assert not Row("x", None, 100.0, 116.0, tolerance=0.15, relative=True).agrees
    assert not Row("x", 0, 0, 1).agrees
    assert Row("x", None, 1, 99, tolerance=None).agrees
    assert not Row("x", None, float("nan"), 1.0, tolerance=0.25, relative=True).agrees


def test_twin_result_renders_as_text_html_and_json():
    t = IdempotencyTwin()
    sim = t.simulate(CAL)
    rows = (Row("a", 1.0, 1.0, 1.0), Row("b", None, 2.0, 3.0, tolerance=0.5))
    res = TwinResult("idempotency", t.params(), CAL, sim, sim, rows)
    assert not res.agrees and [r.metric for r in res.disagreements()] == ["b"]
    text = res.table()
    assert "DISAGREE on: b" in text and "rejoin_ms" in text
    assert "<table>" in res._repr_html_()
    data = json.loads(res.to_json())
    assert data["agrees"] is False and data["rows"][0]["agrees"] is True
    assert data["calibration"]["rejoin_ms"] == 200
    with pytest.raises(AttributeError):
        res.rows = ()  # immutable


@pytest.mark.parametrize(
    "module",
    [
        "result",
        "calibrate",
        "loss",
        "lag",
        "hot_partitions",
        "idempotency",
        "send_limit",
        "throughput",
    ],
)
def test_docstring_examples_run(module):
    import doctest
    import importlib

    mod = importlib.import_module(f"labs.twins.{module}")
    failures, _ = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert failures == 0


@pytest.mark.parametrize("cls", [LossTwin, LagTwin, HotPartitionsTwin, IdempotencyTwin])
def test_every_twin_has_a_figure(cls):
    """Each twin's figure, drawn from the simulator's rows against the theory (no broker:
    the simulated run stands in both columns of the figure). The rows are checked against
    the theory first -- not against themselves -- so a drifting simulator fails here."""
    from labs.twins.plot import plot

    t = cls()
    sim = t.simulate(CAL)
    if cls is LossTwin:
        f = t.theory()["loss_fraction"]
        sim_f = sim.report["subscriber:0"].loss_fraction
        assert abs(sim_f - f) <= 0.05 and sim.report["group:0"].lost == 0
        rows = (Row("Pub/Sub loss fraction", f, sim_f, sim_f, tolerance=0.03),)
    elif cls is LagTwin:
        peak = lag_stats(sim, "group:0").peak
        assert sim.report["group:0"].lost == 0
        assert peak >= t.theory()["peak_lag"]  # the rejoin time only adds to the backlog
        rows = (Row("peak lag (messages)", t.theory()["peak_lag"], peak, peak, tolerance=0.15),)
    elif cls is HotPartitionsTwin:
        counts = np.bincount(sim.history.partition, minlength=t.partitions)
        assert np.array_equal(counts, t.theory_counts())
        rows = tuple(
            Row(f"messages in partition {p}", c, c, c) for p, c in enumerate(t.theory_counts())
        )
    else:
        dup = sim.report["group:0"].duplicated
        assert dup == t.predicted_duplicates()
        rows = (Row("duplicates, commit after (crash at 25)", t.predicted_duplicates(), dup, dup),)
    res = TwinResult(t.name, t.params(), CAL, sim, sim, rows)
    fig = plot(res)
    assert fig.axes and fig.axes[0].get_title().startswith(f"twin {t.name}")


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n=st.integers(10, 2000))
def test_simulated_duplicates_equal_the_prediction_in_the_whole_range(data, n):
    k = data.draw(st.integers(1, n - 1), label="crash_after")
    c = data.draw(st.integers(1, n), label="commit_every")
    t = IdempotencyTwin(messages=n, crash_after=k, commit_every=c)
    sim = t.simulate(CAL)
    assert sim.report["group:0"].duplicated == t.predicted_duplicates()
    assert sim.report["group:1"].duplicated == 0
    assert sim.report["group:0"].lost == sim.report["group:1"].lost == 0


@settings(max_examples=25, deadline=None)
@given(data=st.data(), rate=st.sampled_from([20.0, 50.0, 200.0, 500.0]))
def test_simulated_loss_stays_near_theory_in_the_whole_range(data, rate):
    window = data.draw(st.sampled_from([2.0, 4.0, 8.0]), label="window_s")
    start = data.draw(st.floats(0.2, window - 0.5), label="down_from_s")
    length = data.draw(st.floats(0.5, max(0.5, window - start - 0.2)), label="down_for_s")
    if start + length > window - 0.2 + 1e-9:
        return
    t = LossTwin(
        rate_per_s=rate,
        window_s=window,
        down_from_s=start,
        down_for_s=length,
        service_rate_per_s=max(1.5 * rate, 100.0),
    )
    sim = t.simulate(CAL)
    assert abs(sim.report["subscriber:0"].loss_fraction - t.theory()["loss_fraction"]) <= 0.05
    assert sim.report["group:0"].lost == 0


def test_python_m_labs_twin_reaches_the_twins(capsys):
    from labs.__main__ import main as labs_main

    assert labs_main(["twin", "list"]) == 0
    assert "idempotency" in capsys.readouterr().out


def test_the_pacer_keeps_a_schedule_not_the_wake_ups():
    """A record is due 1/rate after the previous one (or after it was fetched, if the
    consumer was idle); a late wake-up does not push the schedule back, and the thread
    sleeps only when it is more than QUANTUM_S ahead of it."""
    from labs.pacing import QUANTUM_S, Pacer

    p = Pacer(2000.0)
    dues = [p.due(ready_at=1.0) for _ in range(4)]
    assert dues == pytest.approx([1.0005, 1.001, 1.0015, 1.002])
    assert p.due(ready_at=1.0) == pytest.approx(1.0025)  # woke late at 1.1: still 1.0025
    assert p.due(ready_at=5.0) == pytest.approx(5.0005)  # idle in between: starts again
    assert Pacer.sleep_s(due=1.0 + QUANTUM_S / 2, now=1.0) == 0.0
    assert Pacer.sleep_s(due=1.0 + 2 * QUANTUM_S, now=1.0) == pytest.approx(2 * QUANTUM_S)
    with pytest.raises(ValueError, match='"service_rate_per_s"'):
        Pacer(0.0)


def test_due_batches_send_whatever_is_due_at_once():
    from labs.recording import Clock
    from labs.sending import MAX_BATCH, due_batches

    batches = list(due_batches(np.zeros(2 * MAX_BATCH + 1), Clock()))
    assert [(a, b) for a, b, _ in batches] == [
        (0, MAX_BATCH),
        (MAX_BATCH, 2 * MAX_BATCH),
        (2 * MAX_BATCH, 2 * MAX_BATCH + 1),
    ]
    clock = Clock()
    plan = np.array([0.0, 0.0, 0.02, 0.04])
    got = list(due_batches(plan, clock))
    assert [g[:2] for g in got][0] == (0, 2) and got[-1][1] == 4
    assert all(now >= plan[a] for a, _, now in got)  # never before the plan


def test_a_rate_above_the_measured_limit_names_the_limit():
    from labs.twins.send_limit import BeyondThisMachine, SendLimit, check_rate

    limit = SendLimit("Kafka send()", 3456.7, 5000, 1.45, "measured at noon")
    check_rate(3456.0, limit)
    with pytest.raises(BeyondThisMachine, match=r'"rate_per_s" = 5000 msg/s .* limit 3457 msg/s'):
        check_rate(5000.0, limit)
    assert issubclass(BeyondThisMachine, ValueError)  # the CLI's usage error (exit 2)


def test_a_consumer_slower_than_the_publisher_is_refused_with_its_measured_rate():
    from labs.twins.send_limit import BeyondThisMachine

    t = LossTwin(rate_per_s=100.0, service_rate_per_s=200.0)  # CAL: 95 records/s measured
    with pytest.raises(BeyondThisMachine, match=r'"service_rate_per_s" = 200 .* only 95 records/s'):
        t.check_calibration(CAL)
    LossTwin(rate_per_s=50.0, service_rate_per_s=200.0).check_calibration(CAL)  # 95 >= 55


@pytest.mark.parametrize("module", ["labs.pacing", "labs.sending", "labs.steal"])
def test_docstring_examples_of_the_lab_helpers_run(module):
    import doctest
    import importlib

    failures, tried = doctest.testmod(importlib.import_module(module))
    assert tried and failures == 0


def test_the_paced_rate_leaves_a_stall_out_and_keeps_a_slower_pace():
    """The calibration's paced consumer: one stall of 0.35 s in a second of records (the CI
    run that read 1,757 records/s at a nominal 2,500) does not move the rate; a consumer
    slower on every record does; at 10 records/s a gap of 0.1 s is the pace, not a stall."""
    import numpy as np

    from labs.twins.calibrate import paced_rate

    steady = np.arange(2500) / 2400.0  # 2,400 records/s
    stalled = steady + np.where(np.arange(2500) >= 1200, 0.35, 0.0)
    rate, lost = paced_rate(list(steady), 2500.0)
    assert rate == pytest.approx(2400.0) and lost == 0.0
    rate, lost = paced_rate(list(stalled), 2500.0)
    assert rate == pytest.approx(2400.0, rel=1e-3) and lost == pytest.approx(0.35, abs=1e-3)
    slow = np.arange(2500) / 1800.0
    assert paced_rate(list(slow), 2500.0) == (pytest.approx(1800.0), 0.0)
    assert paced_rate([0.0, 0.1, 0.2, 0.3], 10.0) == (pytest.approx(10.0), 0.0)
    # every gap a stall: no working time to tell them from, so the plain rate (never the
    # nominal one, which would hide a consumer that slow)
    assert paced_rate([0.0, 0.2, 0.4], 100.0) == (pytest.approx(5.0), 0.0)

"""sim.course.decision: event classes map to tools in the direction the semantics demand."""

import math

import pytest

from sim.core.engine import run
from sim.course.decision import (
    CHECKLIST,
    SLO,
    AlertRule,
    EventClass,
    Thresholds,
    check_slo,
    fires_at,
    recommend,
    schema_problems,
)


def test_critical_replay_needing_class_never_gets_pubsub():
    for fan_out in (1, 5, 50):
        for downtime in (0, 5, 60):
            ec = EventClass("payment", critical=True, needs_replay=True, fan_out=fan_out,
                            rate_per_s=100, downtime_s=downtime)  # fmt: skip
            tool = recommend(ec).tool
            assert tool in ("kafka", "hybrid"), (
                f"a critical event that must be replayed needs a durable log, got {tool}"
            )


def test_transient_high_fan_out_class_gets_pubsub():
    ec = EventClass("price tick", fan_out=100, latency_p95_ms=20, rate_per_s=1000,
                    downtime_s=2, max_loss_fraction=0.01)  # fmt: skip
    rec = recommend(ec)
    assert rec.tool == "pubsub", f"transient, loss within budget: ephemeral fan-out; {rec}"
    assert rec.numbers["pubsub"].lost > 0, "the simulator still shows what is lost"


def test_critical_without_replay_or_order_gets_streams_only_on_a_persisted_redis():
    ec = EventClass("email requested", critical=True, rate_per_s=50, downtime_s=20)
    for aof in ("aof_everysec", "aof_always"):
        rec = recommend(ec, redis_persistence=aof)
        assert rec.tool == "streams", f"no loss, no history, no order, AOF: a stream; {rec}"
    # The default is the course's own Redis (--save "" --appendonly no): a restart empties
    # it, so a critical event goes to the log. (Before issue 14 the default was "streams".)
    for persistence in ("none", "rdb"):
        rec = recommend(ec, redis_persistence=persistence)
        assert rec.tool == "kafka", f"a Redis without AOF is no store for critical events; {rec}"
        assert any("appendonly no" in r for r in rec.reasons), rec.reasons
    assert recommend(ec).tool == "kafka"


def test_a_non_critical_stream_needs_no_persistence_but_says_what_a_restart_costs():
    ec = EventClass("presence", rate_per_s=200, downtime_s=30, outages_per_day=24,
                    max_loss_fraction=1e-6)  # fmt: skip
    rec = recommend(ec)
    assert rec.tool == "streams", rec
    assert any("restart loses it" in r for r in rec.reasons), rec.reasons


def test_bad_persistence_and_thresholds_are_refused_by_name():
    ec = EventClass("e", rate_per_s=10, downtime_s=1)
    with pytest.raises(ValueError, match="redis_persistence"):
        recommend(ec, redis_persistence="aof")
    with pytest.raises(TypeError, match="thresholds"):
        recommend(ec, thresholds={"hybrid_fan_out": 3})
    with pytest.raises(ValueError, match="hybrid_fan_out"):
        Thresholds(hybrid_fan_out=0)
    with pytest.raises(ValueError, match="streams_max_rate_per_s"):
        Thresholds(streams_max_rate_per_s=-1)


def test_thresholds_are_parameters_with_their_derivation():
    th = Thresholds()
    # 100,000 commands/s on one Redis thread / 2 commands per stream event (XADD + XACK).
    assert th.streams_max_rate_per_s == 100_000 / 2
    assert th.live_latency_ms == 100.0 and th.hybrid_fan_out == 10
    for number in ("100,000", "0.1 s", "Nielsen", "redis-benchmark"):
        assert number in Thresholds.__doc__
    live = EventClass("balance changed", critical=True, fan_out=200, latency_p95_ms=50,
                      rate_per_s=200, downtime_s=10)  # fmt: skip
    assert recommend(live).tool == "hybrid"
    assert recommend(live, thresholds=Thresholds(hybrid_fan_out=500)).tool == "kafka"
    slow = EventClass("email", critical=True, rate_per_s=50, downtime_s=5)
    rec = recommend(slow, redis_persistence="aof_always",
                    thresholds=Thresholds(streams_max_rate_per_s=10))  # fmt: skip
    assert rec.tool == "kafka" and any("one Redis thread" in r for r in rec.reasons)


def test_per_key_order_or_high_rate_needs_kafka():
    ordered = EventClass("account event", critical=True, ordering="per_key", rate_per_s=50,
                         downtime_s=10)  # fmt: skip
    fast = EventClass("click", critical=True, rate_per_s=100_000, downtime_s=0.5)
    assert recommend(ordered).tool == "kafka", "per-key order with many consumers: partitions"
    assert recommend(fast).tool == "kafka", "beyond one Redis node: a partitioned log"


def test_critical_live_fan_out_gets_hybrid():
    ec = EventClass("balance changed", critical=True, fan_out=200, latency_p95_ms=50,
                    rate_per_s=200, downtime_s=10)  # fmt: skip
    assert recommend(ec).tool == "hybrid", "facts in Kafka, notifications to many live readers"


def test_loss_budget_decides_for_transient_events():
    base = dict(fan_out=10, rate_per_s=200, downtime_s=30, outages_per_day=24)
    tight = recommend(EventClass("presence", max_loss_fraction=1e-6, **base))
    loose = recommend(EventClass("presence", max_loss_fraction=0.05, **base))
    assert tight.tool != "pubsub" and loose.tool == "pubsub", (
        "the same outage is acceptable or not depending on the loss budget"
    )


def test_longer_downtime_more_pubsub_loss_and_longer_catch_up():
    lost, catch = [], []
    for down in (2, 10, 30):
        rec = recommend(EventClass("e", critical=True, rate_per_s=100, downtime_s=down))
        lost.append(rec.numbers["pubsub"].lost)
        catch.append(rec.numbers["kafka"].catch_up_s)
        assert rec.numbers["kafka"].lost == 0 and rec.numbers["streams"].lost == 0
    assert lost == sorted(lost) and catch == sorted(catch), (lost, catch)


def test_catch_up_matches_theory():
    ec = EventClass("e", critical=True, rate_per_s=50, downtime_s=60, service_rate_per_s=100)
    rec = recommend(ec)
    theory = 50 * 60 / (100 - 50)
    assert rec.numbers["kafka"].catch_up_s == pytest.approx(theory, rel=0.2)
    assert rec.numbers["kafka"].peak_lag == pytest.approx(50 * 60, rel=0.1)


def test_recommend_is_seed_stable():
    ec = EventClass("e", critical=True, rate_per_s=100, downtime_s=5)
    assert str(recommend(ec, seed=3)) == str(recommend(ec, seed=3))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ordering": "global"},
        {"fan_out": 0},
        {"rate_per_s": -1},
        {"max_loss_fraction": 2},
        {"critical": True, "max_loss_fraction": 0.1},
        {"rate_per_s": 100, "service_rate_per_s": 50},
        {"critical": "yes"},
        {"name": ""},
    ],
)
def test_event_class_rejects_bad_fields(kwargs):
    with pytest.raises((ValueError, TypeError)):
        EventClass(**{"name": "e", **kwargs})


def test_slo_and_alert_rules():
    r = run({"workload": {"rate_per_s": 200, "duration_s": 30},
             "consumers": {"groups": [{"service": {"kind": "exponential", "mean_ms": 2}}],
                           "subscribers": 1},
             "faults": [["consumer_crash", "group:0:0", 10, 5],
                        ["subscriber_down", "subscriber:0", 10, 5]]}, seed=0)  # fmt: skip
    slo = SLO(latency_p95_ms=10_000, max_loss_fraction=0.0, max_lag=2000)
    assert all(c.met for c in check_slo(r, "group:0", slo))
    sub = {c.objective: c.met for c in check_slo(r, "subscriber:0", slo)}
    assert sub["loss (share)"] is False
    lag_rule = AlertRule("lag high", "lag", 500)
    accel_rule = AlertRule("lag accelerating", "lag_accel", 50)
    t_lag, t_accel = fires_at(lag_rule, r, "group:0"), fires_at(accel_rule, r, "group:0")
    assert 10 <= t_accel < t_lag < 15, f"acceleration warns before the level: {t_accel}, {t_lag}"
    assert math.isnan(fires_at(AlertRule("never", "lag", 1e9), r, "group:0"))
    with pytest.raises(ValueError):
        AlertRule("bad", "lag_accel", 1, window_s=0)
    with pytest.raises(ValueError):
        AlertRule("bad", "lag_jerk", 1)


def test_schema_problems_and_checklist():
    v1 = {"id": {"type": "string", "required": True}, "amount": {"type": "int"}}
    ok = {**v1, "currency": {"type": "string"}}
    bad = {"id": {"type": "int", "required": True}, "note": {"type": "string", "required": True}}
    assert schema_problems(v1, ok) == []
    # BACKWARD (the default): id string -> int is no promotion, note has no default; the
    # removed amount is fine (the new reader ignores it).
    assert len(schema_problems(v1, bad)) == 2
    assert len(schema_problems(v1, bad, "FULL")) == 3  # + FORWARD: int -> string
    assert any("schema" in item for item, _ in CHECKLIST)


V1 = {"id": {"type": "string", "required": True}, "amount": {"type": "int"},
      "note": {"type": "string"}}  # fmt: skip


def _without(schema, name):
    return {k: v for k, v in schema.items() if k != name}


@pytest.mark.parametrize(
    ("change", "backward", "forward"),
    [
        # removing a field: the new reader ignores it; an old reader needs its default
        (_without(V1, "note"), True, True),
        (_without(V1, "id"), True, False),
        # adding a field: the new reader needs a default; an old reader ignores it
        ({**V1, "currency": {"type": "string"}}, True, True),
        ({**V1, "currency": {"type": "string", "required": True}}, False, True),
        # Avro promotions: int -> long/float/double, long -> float/double, float -> double,
        # string <-> bytes; never the other way (except string/bytes)
        ({**V1, "amount": {"type": "long"}}, True, False),
        ({**V1, "amount": {"type": "float"}}, True, False),
        ({**V1, "amount": {"type": "double"}}, True, False),
        ({**V1, "amount": {"type": "string"}}, False, False),
        ({**V1, "id": {"type": "bytes", "required": True}}, True, True),
    ],
)
def test_schema_compatibility_follows_avro_resolution(change, backward, forward):
    assert (schema_problems(V1, change, "BACKWARD") == []) is backward
    assert (schema_problems(V1, change, "FORWARD") == []) is forward
    assert (schema_problems(V1, change, "FULL") == []) is (backward and forward)
    assert schema_problems(V1, change, "NONE") == []


def test_schema_narrowing_and_bad_mode():
    wide = {**V1, "amount": {"type": "double"}}
    assert schema_problems(wide, V1, "BACKWARD"), "double -> int loses information"
    assert schema_problems(wide, V1, "FORWARD") == [], "old readers of double read int"
    with pytest.raises(ValueError, match="mode"):
        schema_problems(V1, V1, "TRANSITIVE")


def test_figures_have_titles_labels_and_legends():
    from sim.course.decision import alerts_figure, recommendation_figure

    ec = EventClass("e", critical=True, rate_per_s=100, downtime_s=5)
    rec = recommend(ec, redis_persistence="aof_always")  # a stream: its figure names it
    fig = recommendation_figure(rec)
    assert fig._suptitle is not None and "streams" in fig._suptitle.get_text()
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    rules = [AlertRule("lag high", "lag", 100), AlertRule("accel", "lag_accel", 10)]
    fig = alerts_figure(rec.result, "group:0", rules)
    assert fig._suptitle is not None
    for ax in fig.axes:
        assert ax.get_ylabel() and ax.get_legend() is not None
    assert fig.axes[-1].get_xlabel() == "time (s)"

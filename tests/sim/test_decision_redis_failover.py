"""recommend() weighs Redis replication and failover for a critical event class (issue 15)."""

from __future__ import annotations

import pytest

from sim.course.decision.recommend import EventClass, recommend
from sim.models.replication import expected_failover_loss

CRITICAL = EventClass("payment captured", critical=True, rate_per_s=400, downtime_s=20)


def test_async_replication_sends_a_critical_event_to_kafka_with_the_failover_loss():
    rec = recommend(
        CRITICAL, redis_persistence="aof_always", redis_replication="async",
        replication_lag_ms=50.0,
    )  # fmt: skip
    assert rec.tool == "kafka", rec
    n = expected_failover_loss(rate_per_s=400, lag_ms=50.0)  # 20 events
    assert any("asynchronous replication" in r and f"{n:.3g}" in r for r in rec.reasons), rec


@pytest.mark.parametrize(("persistence", "fsync"), [("aof_always", "always"),
                                                    ("aof_everysec", "everysec")])  # fmt: skip
def test_wait_and_aof_give_streams_with_the_required_config_and_residual(persistence, fsync):
    rec = recommend(
        CRITICAL, redis_persistence=persistence, redis_replication="wait", replication_lag_ms=2.0
    )
    assert rec.tool == "streams", rec
    text = "\n".join(rec.reasons)
    assert f"appendonly yes, appendfsync {fsync}" in text
    assert "WAIT 1" in text and "not strong consistency" in text
    # everysec states what a power loss costs: about a second of events.
    assert ("power loss none" in text) == (fsync == "always")


def test_zero_loss_through_any_failover_prefers_kafka_even_with_wait():
    rec = recommend(
        CRITICAL, redis_persistence="aof_always", redis_replication="wait",
        failover_must_lose_nothing=True,
    )  # fmt: skip
    assert rec.tool == "kafka", rec
    assert any("WAIT does not make Redis strongly consistent" in r for r in rec.reasons)


def test_a_single_node_says_it_has_no_failover():
    rec = recommend(CRITICAL, redis_persistence="aof_always")
    assert rec.tool == "streams"
    assert any("no failover" in r for r in rec.reasons), rec.reasons


def test_non_critical_events_ignore_the_failover_setting():
    ec = EventClass("presence", rate_per_s=200, downtime_s=30, outages_per_day=24,
                    max_loss_fraction=1e-6)  # fmt: skip
    assert recommend(ec, redis_replication="async").tool == "streams"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"redis_replication": "sync"}, "redis_replication"),
        ({"replication_lag_ms": -1.0}, "replication_lag_ms"),
        ({"failover_must_lose_nothing": "yes"}, "failover_must_lose_nothing"),
    ],
)
def test_bad_settings_are_refused_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        recommend(CRITICAL, **kwargs)

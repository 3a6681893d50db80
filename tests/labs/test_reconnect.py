"""Reconnect lab on real Redis: a Pub/Sub gap detected and repaired from a stream, the
order across a reconnect, and a client-side cache stale after a reconnect without the flush."""

from __future__ import annotations

import pytest

import labs.naming
from labs.clients import redis_client
from labs.lessons import check
from labs.reconnect import TrackingCache, run_reconnect
from sim.models import client_cache as cc

pytestmark = pytest.mark.brokers


@pytest.fixture(scope="module")
def default_run():
    return run_reconnect(seed=0)


def test_the_lesson_holds_at_the_defaults(default_run):
    # labs.lessons: one gap, all repaired, none still missing; stale reads only without
    # the flush.
    assert check("reconnect", default_run) == []


def test_the_gap_is_what_was_published_while_the_subscriber_was_away(default_run):
    m, p = default_run.metrics, default_run.params
    sub = default_run.report["subscriber:0"]
    # Messages published between the last one read and the first one after the new
    # SUBSCRIBE: about rate x down_for_s, give or take the messages racing the close and
    # the new subscription (a 50 ms margin at this rate: 10 messages).
    assert abs(m["missed"] - p["rate_per_s"] * p["down_for_s"]) <= 0.05 * p["rate_per_s"]
    assert m["missed"] == sub.lost == m["repaired"]
    assert m["gaps_detected"] == 1 and m["still_missing"] == 0
    gw = default_run.report["gateway:0"]
    assert gw.processed == gw.acknowledged == m["messages"]


def test_order_across_the_reconnect_is_a_hole_never_a_step_back(default_run):
    m = default_run.metrics
    assert m["reordered_within_connection"] == 0
    assert m["holes_in_subscriber_sequence"] == 1
    assert m["last_seq_before_outage"] >= 0  # it read some before the hole
    assert m["gateway_order_inversions"] == 0
    ids = default_run.history.reader("gateway:0").ids
    assert list(ids) == sorted(ids)


def test_the_unflushed_cache_serves_exactly_the_stale_reads_the_model_predicts(default_run):
    m = default_run.metrics
    assert m["stale_reads_without_flush"] > 0
    assert m["stale_reads_with_flush"] == 0
    # Staleness depends only on the order of updates, reconnect and reads (drawn from the
    # seed by the simulator's own draw_ops), so the model replays it exactly.
    assert m["stale_reads_without_flush"] == m["model_stale_reads_without_flush"]
    # The kept cache is never told again: its new connection tracks none of its keys.
    assert m["invalidations_after_reconnect_without_flush"] == 0
    assert m["invalidations_after_reconnect_with_flush"] > 0
    assert m["invalidations_while_connected_without_flush"] == 5
    assert m["cache_hits_without_flush"] == m["cache_reads"]


def test_a_stream_trimmed_below_the_gap_leaves_messages_missing():
    result = run_reconnect(stream_maxlen=40, window_s=1.5, read_for_s=0.5, seed=1)
    m = result.metrics
    assert m["missed"] > 40
    # XREAD finds only the entries the stream still holds: at most maxlen, minus the
    # revealing message and any published before the gap was seen.
    assert 0 < m["repaired"] < 40
    assert m["still_missing"] == m["missed"] - m["repaired"] > 0
    assert result.report["gateway:0"].lost == m["still_missing"]
    assert check("reconnect", result) == []  # the rest of the lesson holds all the same


def test_stale_reads_grow_with_the_update_rate():
    slow = run_reconnect(window_s=1.25, updates_per_s=5.0, read_for_s=1.0, seed=2).metrics
    fast = run_reconnect(window_s=1.25, updates_per_s=200.0, read_for_s=1.0, seed=2).metrics
    assert fast["stale_reads_without_flush"] > slow["stale_reads_without_flush"]
    assert fast["stale_reads_with_flush"] == slow["stale_reads_with_flush"] == 0
    expected = cc.expected_stale_reads(
        cc.CacheScenario(
            keys=100, updates_per_s=200.0, down_s=1.0, reads_per_s=100.0, read_for_s=1.0
        )
    )
    assert fast["expected_stale_reads_without_flush"] == pytest.approx(expected)


def test_bcast_tracking_announces_later_changes_but_not_those_made_while_away():
    result = run_reconnect(window_s=1.25, read_for_s=1.5, tracking="bcast", seed=4)
    assert check("reconnect", result) == []
    m = result.metrics
    # The kept cache hears of every change after the reconnect (BCAST: any key under the
    # prefix), so it is stale only for keys changed while away and not since.
    assert m["invalidations_after_reconnect_without_flush"] > 0
    assert 0 < m["stale_reads_without_flush"] == m["model_stale_reads_without_flush"]
    assert m["stale_reads_with_flush"] == 0
    assert result.settings["cache"].startswith("RESP3, CLIENT TRACKING on (bcast mode)")


@pytest.mark.parametrize(
    ("bad", "name"),
    [
        ({"down_for_s": 5.0}, "down_for_s"),
        ({"cache_keys": 0}, "cache_keys"),
        ({"tracking": "optin"}, "tracking"),
    ],
)
def test_bad_input_names_the_parameter(bad, name):
    with pytest.raises(ValueError, match=name):
        run_reconnect(**bad)


def _tracking_clients(r) -> int:
    """Connections with CLIENT TRACKING on (flag ``t`` in CLIENT LIST)."""
    return sum("t" in c["flags"] for c in r.client_list())


def test_a_failing_run_leaves_no_key_and_no_tracking_connection(monkeypatch):
    monkeypatch.setattr(labs.naming, "new_run_id", lambda: "failrun0recon")

    def broken(self):
        raise RuntimeError("the reconnect broke half-way")

    # By then the stream, the channel's keys and both caches' keys exist on Redis.
    monkeypatch.setattr(TrackingCache, "reconnect", broken)
    r = redis_client()
    try:
        before = _tracking_clients(r)
        with pytest.raises(RuntimeError, match="half-way"):
            run_reconnect(window_s=1.25, cache_down_s=0.2, read_for_s=0.2)
        assert list(r.scan_iter(match="*failrun0recon*")) == []
        assert _tracking_clients(r) == before
    finally:
        r.close()

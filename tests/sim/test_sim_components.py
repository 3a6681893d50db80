"""Each modelled mechanism does what the real system does."""

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from matplotlib.figure import Figure

import sim
from sim.__main__ import main
from sim.analysis.metrics import lag_profile, published_lag, skew
from sim.analysis.plots import FIGURES
from sim.models.assignors import assign


def _log_run(seed=0, faults=(), log=None, groups=None, workload=None, drain_s=20.0):
    return sim.run(
        {
            "workload": {"rate_per_s": 1000, "duration_s": 10, **(workload or {})},
            "topology": {"log": {"partitions": 3, **(log or {})}},
            "consumers": {"groups": groups or [{}]},
            "faults": list(faults),
            "drain_s": drain_s,
        },
        seed=seed,
    )


BUSY = {
    "consumers": 2,
    "max_poll_records": 50,
    "session_timeout_ms": 500,
    "rebalance_ms": 100,
    "service": {"kind": "exponential", "mean_ms": 1.5},
}
CRASH = [["consumer_crash", "group:0:0", 4.0, 3.0]]


def test_assignment_strategies():
    np.testing.assert_array_equal(assign([0, 1], 5, "range"), [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(assign([0, 2], 5, "roundrobin"), [0, 2, 0, 2, 0])
    np.testing.assert_array_equal(assign([], 2, "range"), [-1, -1])


def test_commit_policies_under_a_crash():
    rows = {
        c: _log_run(faults=CRASH, groups=[{**BUSY, "commit": c}]).report["group:0"]
        for c in ("before", "after", "idempotent", "auto")
    }
    assert rows["before"].lost > 0 and rows["before"].duplicated == 0  # at-most-once
    assert rows["after"].lost == 0 and rows["after"].duplicated > 0  # at-least-once
    assert rows["idempotent"].lost == 0 and rows["idempotent"].duplicated == 0
    assert rows["auto"].lost == 0 and rows["auto"].duplicated > rows["after"].duplicated


def test_crash_is_noticed_after_the_session_timeout_and_rebalances():
    short = _log_run(faults=CRASH, groups=[{**BUSY, "session_timeout_ms": 500}])
    long = _log_run(faults=CRASH, groups=[{**BUSY, "session_timeout_ms": 10_000}])
    assert short.metrics["rebalances:group:0"] == 2  # leave detected, then rejoin
    assert long.metrics["rebalances:group:0"] == 1  # back before anyone noticed
    assert long.metrics["peak_lag:group:0"] > short.metrics["peak_lag:group:0"]


def test_producer_retries_duplicate_without_idempotence_only():
    kw = {"request_error_rate": 0.2, "retries": 3}
    plain = _log_run(log={**kw, "enable_idempotence": False, "acks": "1"})
    idem = _log_run(log={**kw, "enable_idempotence": True, "acks": "all"})
    assert plain.metrics["producer_duplicates"] > 0
    # Every extra copy of an acknowledged message is processed again by the group.
    assert 0 < plain.report["group:0"].extra <= plain.metrics["producer_duplicates"]
    assert idem.metrics["producer_duplicates"] == 0 and idem.report["group:0"].duplicated == 0
    none = _log_run(
        log={"request_error_rate": 0.2, "retries": 0, "enable_idempotence": False, "acks": "1"}
    )
    assert none.report["group:0"].unknown > 0  # no retry: the outcome is unknown


def test_leader_failure_loses_unreplicated_writes_with_acks_1_only():
    f = [["leader_unavailable", "partition:1", 5.0, 2.0]]
    one = _log_run(
        faults=f, log={"acks": "1", "enable_idempotence": False, "replication_lag_ms": 200}
    )
    full = _log_run(faults=f, log={"acks": "all", "replication_lag_ms": 200})
    assert one.report["group:0"].lost == one.metrics["truncated_on_failover"] > 0
    assert full.report["group:0"].lost == 0


def test_sends_expire_when_the_leader_stays_away():
    r = _log_run(
        faults=[["leader_unavailable", "log", 2.0, 5.0]], log={"delivery_timeout_ms": 1000}
    )
    failed = (r.history.outcome == sim.FAILED).sum()
    assert failed > 0 and r.metrics["expired_sends"] == failed
    assert r.report["group:0"].lost == 0  # failed sends were never acknowledged


def test_late_groups_replay_or_start_at_the_end_and_seek():
    groups = [
        {},
        {"join_at_s": 5, "auto_offset_reset": "earliest"},
        {"join_at_s": 5, "auto_offset_reset": "latest"},
        {"join_at_s": 5, "seek_timestamp_s": 2.0},
        {"join_at_s": 5, "seek_offset": 0},
    ]
    r = _log_run(groups=groups)
    t = r.history.publish_time
    n = r.history.messages
    assert r.report["group:1"].processed == n  # replays the history
    assert r.report["group:2"].acknowledged == pytest.approx((t >= 5).sum(), abs=5)
    assert r.report["group:3"].acknowledged == pytest.approx((t >= 2).sum(), abs=5)
    assert r.report["group:4"].processed == n
    assert all(row.lost == 0 and row.unseen == 0 for row in r.report.rows)


def test_retention_by_size_deletes_oldest_first():
    r = _log_run(
        groups=[{}, {"join_at_s": 9.9, "auto_offset_reset": "earliest"}],
        log={
            "retention_bytes": 100 * 1024,
            "segment_bytes": 10 * 1024,  # 10 records a segment, checked every 100 ms
            "retention_check_interval_ms": 100,
            "partitions": 1,
        },
        workload={"size_bytes": 1024},
    )
    row = r.report["group:1"]
    assert row.lost > 0 and r.report["group:0"].lost == 0
    # What the log still held when it joined (100 records, plus at most a segment and a
    # check interval's worth: 10 + 20), plus what came after.
    assert row.processed <= 100 + 30 + 200


def test_linger_and_partition_throughput_cap_delay_appends():
    base = _log_run().report["group:0"].latency_p50_s
    lingered = _log_run(log={"linger_ms": 20}).report["group:0"].latency_p50_s
    capped = _log_run(log={"partition_rate_per_s": 300}).report["group:0"]
    assert lingered > base + 0.005
    assert capped.latency_p99_s > 1.0 and capped.lost == 0


def test_poison_messages_go_to_the_dead_letter_topic():
    r = _log_run(
        workload={"poison_fraction": 0.01},
        groups=[{"max_retries": 2, "retry_backoff_ms": 10, "service": {"mean_ms": 0.1}}],
    )
    poison = int(r.history.reader("dlq:group:0").expected.sum())
    assert poison > 0
    assert r.metrics["dlq:group:0"] == poison == r.report["dlq:group:0"].processed
    assert r.report["group:0"].lost == 0  # poison messages are not expected of the group
    dropped = _log_run(
        workload={"poison_fraction": 0.01},
        groups=[{"max_retries": 0, "dlq": False, "service": {"mean_ms": 0.1}}],
    )
    assert dropped.metrics["dropped_poison:group:0"] == poison
    assert dropped.report["dlq:group:0"].lost == poison  # never reached a dead-letter topic


def test_pubsub_broker_down_fails_publishes():
    r = sim.run(
        {
            "workload": {"rate_per_s": 1000, "duration_s": 10},
            "consumers": {"subscribers": 1},
            "faults": [["broker_down", "pubsub", 2, 1]],
            "drain_s": 1,
        }
    )
    failed = int((r.history.outcome == sim.FAILED).sum())
    assert 800 < failed < 1200
    assert r.report["subscriber:0"].lost <= 1000 * 1.0 * 1.2  # down + reconnect, not failed


@pytest.mark.parametrize("limit", ["hard", "soft"])
def test_slow_subscriber_is_disconnected_by_the_output_buffer_limit(limit):
    pubsub = (
        {"buffer_hard_bytes": 1_000_000, "buffer_soft_bytes": 0}
        if limit == "hard"
        else {"buffer_hard_bytes": 0, "buffer_soft_bytes": 200_000, "buffer_soft_s": 2}
    )
    r = sim.run(
        {
            "workload": {"rate_per_s": 500, "duration_s": 30, "size_bytes": 1000},
            "topology": {"pubsub": pubsub},
            "consumers": {"subscribers": [{"service": {"mean_ms": 1}}, {}]},
            "faults": [
                {
                    "kind": "slow_consumer",
                    "target": "subscriber:0",
                    "start_s": 5,
                    "duration_s": 10,
                    "factor": 10,
                }
            ],
            "drain_s": 10,
        }
    )
    assert r.metrics["buffer_disconnects:subscriber:0"] >= 1
    assert r.report["subscriber:0"].lost > 0
    assert r.metrics["buffer_disconnects:subscriber:1"] == 0 and r.report["subscriber:1"].lost == 0
    if limit == "hard":
        assert r.metrics["max_buffer_bytes:subscriber:0"] > 1_000_000


def _stream_run(faults=(), maxlen=None, **group):
    return sim.run(
        {
            "workload": {"rate_per_s": 1200, "duration_s": 10},
            "topology": {"stream": {"maxlen": maxlen}},
            "consumers": {
                "stream_groups": [
                    {
                        "consumers": 2,
                        "count": 20,
                        "min_idle_ms": 1000,
                        "service": {"mean_ms": 1.5},
                        **group,
                    }
                ]
            },
            "faults": list(faults),
            "drain_s": 20,
        },
        seed=3,
    )


def test_streams_crash_leaves_entries_pending_and_xautoclaim_redelivers():
    r = _stream_run(faults=[["consumer_crash", "stream-group:0:0", 3.0, 100]])
    row = r.report["stream-group:0"]
    assert row.lost == 0 and row.unseen == 0  # the survivor claimed them
    assert r.metrics["claimed:stream-group:0"] > 0
    assert row.duplicated > 0  # processed but not yet XACKed at the crash
    assert r.metrics["pending_end:stream-group:0"] == 0


def test_streams_maxlen_trims_unread_entries():
    r = _stream_run(maxlen=200, service={"mean_ms": 6})
    assert r.report["stream-group:0"].lost > 0
    assert _stream_run().report["stream-group:0"].lost == 0


def test_streams_poison_goes_to_dead_letters_after_max_deliveries():
    r = sim.run(
        {
            "workload": {"rate_per_s": 200, "duration_s": 5, "poison_fraction": 0.02},
            "consumers": {
                "stream_groups": [
                    {"min_idle_ms": 200, "autoclaim_interval_ms": 100, "max_deliveries": 2}
                ]
            },
            "drain_s": 10,
        },
        seed=1,
    )
    assert r.metrics["dlq:stream-group:0"] == r.report["dlq:stream-group:0"].acknowledged > 0
    assert r.report["dlq:stream-group:0"].lost == 0


def test_metrics_helpers():
    assert skew(np.array([1, 1, 1, 1])) == 1.0 and skew(np.array([4, 0, 0, 0])) == 4.0
    appends = [np.array([0.0, 1.0, 2.0, 3.0])]
    when = np.array([0.5, 2.2, 2.7, 3.5, 4.0])
    prof, by_part = lag_profile(
        appends, np.array([0.0, 2.5, 4.0]), np.array([0, 0, 0]), np.array([0, 2, 4]), 0.0, when
    )
    # appended 0,1,2,3 at t = 0,1,2,3; position 2 at t = 2.5 and 4 at t = 4
    np.testing.assert_array_equal(prof.at(when), [1, 3, 1, 2, 0])
    np.testing.assert_array_equal(by_part, [[1, 3, 1, 2, 0]])
    assert prof.peak == 3 and prof.peak_time == 2.0
    r = _log_run()
    h = r.history
    lag = published_lag(h, h.reader("group:0"), np.array([5.0, 40.0]))
    assert lag[-1] == 0 and lag[0] >= 0


def test_result_pickles_and_summarises():
    r = _log_run()
    again = pickle.loads(pickle.dumps(r))
    assert again.report == r.report and again.to_dict() == r.to_dict()
    assert r.source == "simulator" and r.settings["log.acks"] == "all"
    assert "group:0" in r.summary() and r.to_dict()["report"]


def test_sweep_with_a_user_executor():
    base = sim.Scenario.from_dict(
        {
            "workload": {"rate_per_s": 300, "duration_s": 3},
            "consumers": {"groups": [{}]},
            "drain_s": 2,
        }
    )
    grid = {"consumers.groups.0.consumers": [1, 2], "topology.log.partitions": [2, 4]}
    points = sim.expand(base, grid)
    assert len(points) == 4 and points[-1][1].topology.log.partitions == 4
    with ThreadPoolExecutor(2) as pool:
        results = sim.sweep(base, grid, seeds=(0, 1), executor=pool)
    assert len(results) == 8
    assert results[0].report == sim.run(points[0][1], seed=0).report
    with pytest.raises(TypeError, match="consumers"):
        sim.expand(base, {"consumers.groups.0.consumers": 3})


def test_sweep_default_process_pool():
    base = sim.Scenario.from_dict(
        {
            "workload": {"rate_per_s": 100, "duration_s": 1},
            "consumers": {"subscribers": 1},
            "drain_s": 1,
        }
    )
    results = sim.sweep(base, {"workload.rate_per_s": [50, 100]}, max_workers=2)
    assert [r.params["workload"]["rate_per_s"] for r in results] == [50, 100]


def test_figures_have_titles_labels_and_legends():
    r = sim.run(
        {
            "workload": {"rate_per_s": 300, "duration_s": 10},
            "topology": {"log": {"partitions": 3}},
            "consumers": {"subscribers": 2, "groups": [{}, {}]},
            "faults": [
                ["subscriber_down", "subscriber:0", 2, 2],
                ["consumer_crash", "group:0:0", 2, 2],
            ],
            "drain_s": 5,
        }
    )
    for name, fn in FIGURES.items():
        fig = fn(r)
        assert isinstance(fig, Figure), name
        for ax in fig.axes:
            assert ax.get_title() or fig._suptitle, name
            assert ax.get_xlabel() and ax.get_ylabel(), name
            handles, _ = ax.get_legend_handles_labels()
            if len(handles) > 1:
                assert ax.get_legend() is not None, name


def test_cli_run_prints_the_table_and_saves_figures(tmp_path, capsys):
    assert main(["run", "live_dashboard", "--seed", "1", "--figures", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "subscriber:1" in out and "acknowledged" in out
    assert len(list(tmp_path.glob("*.png"))) == len(FIGURES)
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert main(["list"]) == 0


def test_late_group_lag_starts_at_its_join():
    r = _log_run(groups=[{}, {"join_at_s": 5, "auto_offset_reset": "latest"}])
    assert r.metrics["peak_lag:group:1"] < 50  # not the history it never meant to read
    s = r.series["lag:group:1"]
    assert s.t[0] >= 5


def test_overlapping_outages_of_one_consumer_end_with_the_last():
    faults = [["consumer_crash", "group:0:0", 2.0, 4.0], ["network_flap", "group:0:0", 3.0, 1.0]]
    r = _log_run(faults=faults, groups=[{"consumers": 1}])
    done = r.history.reader("group:0").times
    assert not ((done > 2.0) & (done < 6.0)).any()  # down from 2 s until 6 s, not 4 s
    assert r.report["group:0"].lost == 0 and r.report["group:0"].unseen == 0


def test_consumer_slower_than_retention_keeps_resetting_and_loses_the_rest():
    r = sim.run(
        {
            "workload": {"rate_per_s": 500, "duration_s": 10},
            "topology": {
                "log": {
                    "partitions": 2,
                    "retention_ms": 500,
                    "segment_ms": 50,  # segments short against retention: close to per record
                    "retention_check_interval_ms": 50,
                }
            },
            "consumers": {"groups": [{"service": {"mean_ms": 5}, "auto_offset_reset": "earliest"}]},
            "drain_s": 2,
        }
    )
    row = r.report["group:0"]
    # mu = 200/s against lambda = 500/s: a little over 40% is processed, the rest is
    # deleted by retention before the consumer gets to it.
    assert 0.3 < row.processed / row.acknowledged < 0.5
    assert row.lost == r.metrics["skipped:group:0"] and row.unseen == 0

"""Invariants that must hold for every scenario (Hypothesis)."""

import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.core.queue import departures, departures_reference

# SIM_EXAMPLES=500 pytest tests/sim ... explores harder than the default CI budget.
EXAMPLES = int(os.environ.get("SIM_EXAMPLES", "30"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

services = st.builds(
    lambda kind, mean: {"kind": kind, "mean_ms": mean},
    st.sampled_from(["constant", "exponential", "lognormal", "uniform"]),
    st.floats(0.01, 1.0),
)
groups = st.builds(
    lambda c, a, commit, poll, svc: {
        "consumers": c,
        "assignment": a,
        "commit": commit,
        "max_poll_records": poll,
        "service": svc,
    },
    st.integers(1, 3),
    st.sampled_from(["range", "roundrobin"]),
    st.sampled_from(["auto", "before", "after", "idempotent"]),
    st.integers(1, 50),
    services,
)
workloads = st.builds(
    lambda rate, dur, arr, keys, dist: {
        "rate_per_s": rate,
        "duration_s": dur,
        "arrivals": arr,
        "keys": keys,
        "key_distribution": dist,
        "burst_rate_per_s": rate * 3,
        "burst_every_s": 1.0,
        "burst_length_s": 0.2,
    },
    st.floats(20, 400),
    st.floats(0.5, 4),
    st.sampled_from(["constant", "poisson", "bursty"]),
    st.integers(1, 200),
    st.sampled_from(["uniform", "zipf", "hot", "none"]),
)


def _scenario(w, gs, subs, sgs, partitions, faults=()):
    return sim.Scenario.from_dict(
        {
            "workload": w,
            "topology": {"log": {"partitions": partitions}} if gs else {},
            "consumers": {
                "subscribers": subs,
                "groups": gs,
                "stream_groups": [{"consumers": c, "service": {"mean_ms": 0.2}} for c in sgs],
            },
            "faults": list(faults),
            "drain_s": 20,
        }
    )


@SETTINGS
@given(
    w=workloads,
    gs=st.lists(groups, max_size=2),
    subs=st.integers(0, 2),
    sgs=st.lists(st.integers(1, 2), max_size=1),
    partitions=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_no_faults_every_acknowledged_message_processed_once_by_everyone(
    w, gs, subs, sgs, partitions, seed
):
    r = sim.run(_scenario(w, gs, subs, sgs, partitions), seed=seed)
    acked = int((r.history.outcome == sim.OK).sum())
    for row in r.report.rows:
        assert row.acknowledged == acked, row
        assert row.processed == acked and row.duplicated == 0, row
        assert row.lost == 0 and row.unseen == 0, row


@SETTINGS
@given(
    w=workloads,
    g=groups.filter(lambda g: g["commit"] != "before"),
    partitions=st.integers(1, 6),
    crashes=st.lists(
        st.tuples(
            st.sampled_from(["consumer_crash", "network_flap", "consumer_leave"]),
            st.floats(0, 4),
            st.floats(0, 3),
        ),
        max_size=3,
    ),
    seed=st.integers(0, 1000),
)
def test_log_never_loses_a_committed_message_while_retention_holds(w, g, partitions, crashes, seed):
    g = {**g, "session_timeout_ms": 500, "rebalance_ms": 100}
    faults = [[k, f"group:0:{i % g['consumers']}", s, d] for i, (k, s, d) in enumerate(crashes)]
    r = sim.run(_scenario(w, [g], 0, [], partitions, faults), seed=seed)
    row = r.report["group:0"]
    assert row.lost == 0 and row.unseen == 0, row
    if g["commit"] == "idempotent":
        assert row.duplicated == 0


@SETTINGS
@given(w=workloads, partitions=st.integers(1, 8), svc=services, seed=st.integers(0, 1000))
def test_per_key_order_holds_with_one_consumer(w, partitions, svc, seed):
    w = {**w, "key_distribution": "zipf"}
    g = {"consumers": 1, "service": svc}
    r = sim.run(_scenario(w, [g], 0, [], partitions), seed=seed)
    assert r.report["group:0"].reordered == 0


@SETTINGS
@given(w=workloads, seed=st.integers(0, 1000), down=st.booleans())
def test_pubsub_without_subscribers_delivers_nothing(w, seed, down):
    sc = sim.Scenario.from_dict({"workload": w, "topology": {"pubsub": {}}})
    r = sim.run(sc, seed=seed)
    assert r.history.readers == ()
    assert r.metrics["mean_receivers"] == 0
    assert not r.series["receivers"].value.any()
    if down:  # a subscriber that is down the whole time receives nothing either
        sc = sc.with_changes(
            **{"consumers.subscribers": 1, "faults": [["subscriber_down", "subscriber:0", 0, 1e4]]}
        )
        r = sim.run(sc, seed=seed)
        assert r.report["subscriber:0"].processed == 0
        assert r.metrics["mean_receivers"] == 0


@SETTINGS
@given(
    w=workloads,
    gs=st.lists(groups, min_size=1, max_size=2),
    subs=st.integers(0, 2),
    partitions=st.integers(1, 4),
    faults=st.lists(
        st.tuples(
            st.sampled_from(["consumer_crash", "network_flap", "slow_consumer", "consumer_leave"]),
            st.floats(0, 4),
            st.floats(0, 3),
        ),
        max_size=3,
    ),
    sub_down=st.lists(st.tuples(st.floats(0, 4), st.floats(0, 2)), max_size=2),
    retention_ms=st.sampled_from([None, 500.0, 2000.0]),
    seed=st.integers(0, 1000),
)
def test_lost_processed_once_duplicated_unseen_partition_the_sent_messages(
    w, gs, subs, partitions, faults, sub_down, retention_ms, seed
):
    fl = [[k, f"group:0:{i % gs[0]['consumers']}", s, d] for i, (k, s, d) in enumerate(faults)]
    fl += [["subscriber_down", "subscriber:0", s, d] for s, d in sub_down if subs]
    sc = _scenario(w, gs, subs, [], partitions, fl).with_changes(
        **{
            "topology.log.retention_ms": retention_ms,
            "topology.log.segment_ms": 100,  # segments short enough to expire within the run
            "topology.log.retention_check_interval_ms": 100,
            "drain_s": 2,
        }
    )
    r = sim.run(sc, seed=seed)
    h = r.history
    for row in r.report.rows:
        assert row.processed_once + row.duplicated + row.lost + row.unseen == row.acknowledged
        reader = h.reader(row.reader)
        exp = (h.outcome == sim.OK) & (True if reader.expected is None else reader.expected)
        counts = np.bincount(reader.ids, minlength=h.messages)
        assert (counts[exp] == 1).sum() == row.processed_once
        assert (counts[exp] > 1).sum() == row.duplicated


@settings(max_examples=50, deadline=None)
@given(
    gaps=st.lists(st.floats(0, 2), min_size=0, max_size=60),
    service=st.lists(st.floats(0, 3), min_size=60, max_size=60),
    free=st.one_of(st.just(-np.inf), st.floats(0, 10)),
)
def test_vectorised_fifo_server_equals_the_per_message_loop(gaps, service, free):
    a = np.cumsum(gaps)
    s = np.array(service[: a.size])
    np.testing.assert_allclose(departures(a, s, free), departures_reference(a, s, free))

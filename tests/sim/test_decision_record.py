"""The capstone's decision record: the events file's checks, the configuration it sizes,
the drills it runs and ``python -m sim decide``."""

import subprocess
import sys

import numpy as np
import pytest

from sim.core.workload import zipf_weights
from sim.course.decision import EventClass, recommend
from sim.course.decision.events_file import EXAMPLE, EventSpec, load, parse
from sim.course.decision.record import LAG_BUDGET_S, decide, decide_class, outage_start
from sim.course.decision.settings import (
    HEADROOM,
    PARTITION_CHOICES,
    partitions_for,
    settings_for,
)
from sim.models.partitioner import key_bytes, partition_of


def _file(**event):
    return {"events": [{"name": "E", **event}]}


@pytest.mark.parametrize(
    "data, names",
    [
        ({"event": []}, 'unknown top-level field "event"'),
        ({"events": []}, '"events" must be a non-empty list'),
        (_file(rate=5), 'events[0] (E): unknown field "rate"'),
        ({"events": [{"rate_per_s": 5}]}, 'events[0]: the field "name" is required'),
        (_file(rate_per_s=-1), 'events[0] (E): EventClass "rate_per_s" must be in'),
        (_file(critical="yes"), 'events[0] (E): EventClass "critical" must be true or false'),
        (_file(key_skew=9), 'events[0] (E): EventSpec "key_skew" must be in [0, 5]'),
        (_file(ordering="global"), 'events[0] (E): EventClass "ordering" must be one of'),
        ({"events": [{"name": "E"}, {"name": "E"}]}, "'E' appears twice"),
        ({**_file(), "redis_persistence": "aof"}, '"redis_persistence" must be one of'),
    ],
)
def test_a_bad_events_file_names_the_field(data, names):
    with pytest.raises(ValueError) as err:
        parse(data)
    assert names in str(err.value)


def test_the_bundled_example_loads():
    spec = load(EXAMPLE)
    assert [s.event.name for s in spec.events] == [
        "PaymentCaptured",
        "EmailRequested",
        "BalanceChanged",
        "PriceTick",
    ]


def _busiest(n: int, spec: EventSpec) -> float:
    """The busiest partition's load share of one consumer, computed here from the partitioner."""
    w = zipf_weights(spec.keys, spec.key_skew) if spec.key_skew else np.ones(spec.keys) / spec.keys
    parts = [partition_of(key_bytes(k), n) for k in range(spec.keys)]
    busiest = np.bincount(parts, weights=w, minlength=n).max()
    return busiest * spec.event.rate_per_s / spec.event.service_rate_per_s


@pytest.mark.parametrize("skew", [0.0, 0.8])
def test_partitions_are_the_fewest_that_keep_the_busiest_under_the_headroom(skew):
    spec = EventSpec(EventClass("e", rate_per_s=1000, service_rate_per_s=1200), 5000, skew)
    n, load = partitions_for(spec)
    # rate / service = 0.83 > 0.7: one partition is too busy, two can do
    assert n >= 2 and load <= HEADROOM
    assert load == pytest.approx(_busiest(n, spec))
    smaller = [c for c in PARTITION_CHOICES if c < n]
    assert all(_busiest(c, spec) > HEADROOM for c in smaller)


def test_a_key_hotter_than_a_consumer_is_said():
    # Zipf 3 over 100 keys: the hottest key alone has 1 / H(100, 3) = 83 % of the events
    spec = EventSpec(EventClass("e", rate_per_s=100, service_rate_per_s=110), 100, 3.0)
    n, load = partitions_for(spec)
    assert n == PARTITION_CHOICES[-1]
    assert load == pytest.approx(zipf_weights(100, 3.0)[0] * 100 / 110)
    assert load > HEADROOM
    assert "too hot" in settings_for(spec, "kafka")[0].why


def test_each_class_gets_the_tool_recommend_chooses_and_its_configuration():
    spec = load(EXAMPLE)
    record = decide(spec, seed=0, date="2026-12-06")
    for d in record.decisions:
        assert d.tool == recommend(d.spec.event, seed=0).tool
        names = {s.name: s.value for s in d.settings}
        if d.tool in ("kafka", "hybrid") and d.spec.event.critical:
            assert names["acks"] == "all" and names["min.insync.replicas"] == "2"
        if d.tool == "pubsub":
            assert "client-output-buffer-limit pubsub" in names
    text = record.markdown()
    assert all(f"## {d.spec.event.name} → {d.tool}" in text for d in record.decisions)
    assert decide(spec, seed=0, date="2026-12-06").markdown() == text  # deterministic


def test_the_outage_drill_and_its_alerts_follow_the_lag():
    ec = EventClass("orders", critical=True, rate_per_s=100, downtime_s=120)
    d = decide_class(EventSpec(ec))
    assert d.tool == "kafka"
    outage = next(x for x in d.drills if x.fault.startswith("consumer away"))
    # the backlog of an outage is rate x downtime (within the simulator's service noise)
    assert outage.lost == 0 and outage.peak_lag == pytest.approx(100 * 120, rel=0.05)
    start = outage_start(ec)
    fired = {a.rule.name: a.fires_at_s for a in d.alerts}
    # the lag grows at the publish rate from the outage start: "growing" fires after its 10 s
    # "for:" (plus the 2 s window the rate is taken over), the backlog once 30 s of traffic
    # have piled up and stayed for 60 s
    assert start + 10 <= fired["lag growing"] <= start + 10 + 2 + 0.5
    assert start + LAG_BUDGET_S + 60 <= fired["backlog"] <= start + LAG_BUDGET_S + 60 + 1
    checks = {c.objective: c for c in d.slo_checks}
    assert checks["loss per day (share)"].met
    assert checks["peak lag in the outage (events)"].met


@pytest.mark.parametrize("critical, lost", [(True, 0), (False, 200)])
def test_the_failover_drill_uses_the_configured_acks(critical, lost):
    """Lesson 13's twin: followers stall 1.5 s, the leader dies 1 s into it; with acks=1 it
    acknowledged that second alone (rate x 1 s lost), with acks=all nothing."""
    ec = EventClass(
        "e",
        critical=critical,
        needs_replay=True,
        rate_per_s=200,
        downtime_s=10,
        max_loss_fraction=0.0,
    )
    d = decide_class(EventSpec(ec))
    failover = next(x for x in d.drills if x.fault.startswith("leader killed"))
    assert failover.lost == pytest.approx(lost, abs=2)


def test_streams_for_a_critical_event_needs_aof_and_wait():
    ec = EventClass("mail", critical=True, rate_per_s=50, downtime_s=60)
    d = decide_class(EventSpec(ec), redis_persistence="aof_always")
    assert d.tool == "streams"
    names = {s.name: s.value for s in d.settings}
    assert names["appendfsync"] == "always" and "WAIT 1 <timeout>" in names
    assert int(names["MAXLEN ~"]) >= 2 * 50 * 60
    crash = next(x for x in d.drills if x.fault.startswith("Redis crash"))
    assert crash.lost == 0


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "sim", "decide", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_line_writes_the_record_and_rejects_a_bad_file(tmp_path):
    ok = _cli("--out", "record.md", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "record.md").read_text().startswith("# Decision record: a shop's events")
    bad = tmp_path / "bad.yaml"
    bad.write_text("events:\n  - name: X\n    fan_out: 0\n")
    err = _cli(str(bad), cwd=tmp_path)
    assert err.returncode == 2
    assert 'events[0] (X): EventClass "fan_out" must be in [1, 100000], got 0.' in err.stderr

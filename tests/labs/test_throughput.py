"""The throughput lab on the real brokers: open-loop sweeps, latency from the intended send
time, the sustainable rate for an SLO, and what message size costs.

The machine has 2 cores shared with other work, so a single point's tail is noisy: a
scheduling stall lifts one point's p99 (seen: up to 0.5 s at load 7, the tests niced). The
assertions are chosen to hold through that: the pause tests use a pause (1.5 s) far above
such stalls and compare the top of the distribution (p99.9, max); the size test compares
kafka-python at 100 B (it delivers thousands of messages a second) with 100 KB (its
consumer decodes in Python at about 20 MB/s: it saturates near 200 msg/s), an order of
magnitude apart, with an SLO (``SLO_MS``) above the machine's stalls; the acks tests compare
medians over interleaved repetitions.
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys

import numpy as np
import pytest

from labs import lessons, registry
from labs.experiments.throughput import CONFIGS, Config, rates
from labs.naming import scratch
from labs.throughput import (
    Session,
    cluster_for,
    delivered_rate,
    measure_point,
    run_throughput,
    spread,
)

PAUSE_MS = 1500.0
#: Seconds of one point in the pause tests: the pause fits in its second half.
PAUSE_POINT_S = 3.0
KAFKA = Config("kafka", "confluent-kafka")


@pytest.mark.parametrize(
    ("params", "bad", "says"),
    [
        ({"slo_p99_ms": 0.5}, "slo_p99_ms", r"\[1, 5000\] ms"),
        ({"point_s": 11}, "point_s", r"\[0.2, 10\] s"),
        ({"min_rate_per_s": 500.0, "max_rate_per_s": 400.0}, "max_rate_per_s", "at least min"),
        ({"point_s": 1.0, "consumer_pause_ms": 600.0}, "consumer_pause_ms", "point_s / 2"),
        ({"size_bytes": 10}, "size_bytes", r"\[24, 1000000\]"),
        ({"configs": "everything"}, "configs", "quick"),
    ],
)
def test_bad_input_names_the_parameter_and_its_range(params, bad, says):
    with pytest.raises(ValueError, match=f'"{bad}".*{says}'):
        registry.run("throughput", **params)


def test_bad_point_or_config_names_the_parameter():
    with pytest.raises(ValueError, match=r'"rate_per_s" must be in \[10, 200000\]'):
        measure_point(KAFKA, 5.0)
    with pytest.raises(ValueError, match='"client" of kafka'):
        Config("kafka", "redis-py")
    with pytest.raises(ValueError, match='"compression"'):
        Config("kafka", "kafka-python", compression="gzip2")


def test_rates_are_geometric_and_sets_vary_one_factor():
    assert rates(min_rate_per_s=250.0, max_rate_per_s=128000.0, steps=10)[-1] == 128000.0
    base = Config("kafka", "confluent-kafka")
    for c in CONFIGS["default"]:
        if c.system == "kafka":  # each Kafka configuration differs from the baseline in one
            differ = [f for f in ("client", "acks", "linger_ms", "compression", "size_bytes")
                      if getattr(c, f) != getattr(base, f)]  # fmt: skip
            assert len(differ) <= 1, (c.name, differ)


#: The tests' SLO: the length of a point. A 1 s point's p99 is its 1 % slowest messages: a
#: stall of this shared machine lifts it past the lab's default 50 ms at any rate (seen:
#: 100-500 ms at 250 msg/s with load 7 on the 2 cores and the tests niced). A p99 within
#: the point's length still says the queue did not grow without bound through the point.
SLO_MS = 1000.0


def test_spread_is_the_bodys_coefficient_of_variation():
    rng = np.random.default_rng(1)
    assert spread(rng.normal(100.0, 10.0, 20_000)) == pytest.approx(0.1, rel=0.03)
    with_stalls = np.concatenate([rng.normal(100.0, 10.0, 2000), np.full(20, 5000.0)])
    assert spread(with_stalls) == pytest.approx(0.1, rel=0.1)  # 1 % of stalls: not the body
    assert np.isnan(spread([1.0, 2.0]))


def test_delivered_rate_counts_what_arrived_in_time():
    plan = np.arange(1000) / 1000.0  # 1000 msg/s for 1 s from t0 = 0
    assert delivered_rate(plan + 0.002, plan, 0.0, 1.0) == pytest.approx(1000.0)
    stalled = np.where(plan > 0.5, plan + 0.2, plan)  # a 200 ms stall mid-point: in time
    assert delivered_rate(stalled, plan, 0.0, 1.0) == pytest.approx(1000.0)
    lagging = np.arange(1000) / 400.0  # the receiver took them at 400 a second
    assert delivered_rate(lagging + 10.0, plan + 10.0, 10.0, 1.0) == pytest.approx(400.0)
    # ... and one that took them at 900 a second caught up within the slack (all 1,000 by
    # 1.11 s): it still delivered 900 a second, not the 1,000 a count by 1.25 s says
    assert delivered_rate(plan / 0.9, plan, 0.0, 1.0) == pytest.approx(900.0)
    # a stall (100 ms of nothing near the end, then the backlog at once) is not a lag
    late = np.where((plan >= 0.8) & (plan < 0.9), 0.9, plan) + 0.002
    assert delivered_rate(late, plan, 0.0, 1.0) == pytest.approx(1000.0)
    half_lost = np.where(np.arange(1000) % 2 == 0, plan, np.nan)
    assert delivered_rate(half_lost, plan, 0.0, 1.0) == pytest.approx(500.0)
    # a sender that manages 900 of 1,000 msg/s keeps sending into the slack (the lab stops
    # it at 1.35 s): it delivers 900 a second, not the 1,125 arrived by 1.25 s per second
    # of the window -- which read a point overloaded by a tenth as delivered
    sent = np.arange(1215) / 900.0
    assert delivered_rate(sent + 0.001, sent, 0.0, 1.0) == pytest.approx(900.0, rel=0.002)


@pytest.fixture(scope="module")
def quick():
    # half-second points, as lesson 19 runs its quick set
    return run_throughput(configs="quick", point_s=0.5, slo_p99_ms=SLO_MS)


@pytest.mark.brokers
def test_quick_sweep_reports_every_configuration(quick):
    series = rates(**quick.params)
    assert [c.config for c in quick.curves] == [c.sized(100).name for c in CONFIGS["quick"]]
    for curve in quick.curves:
        points = quick.points_of(curve.config)
        assert curve.rates_per_s == series[: len(points)]  # lowest first, no gap
        assert all(not p.saturated for p in points[:-1])  # stopped at the first saturated
        assert (curve.ended_by == "saturated") == points[-1].saturated
        met = [p.target_rate_per_s for p in points if p.meets_slo]
        assert curve.sustainable_rate_per_s == max(met, default=0.0)
        assert 0.0 <= curve.steal_share <= 1.0  # the host's share, from /proc/stat (Linux)
        for p in points:
            planned = max(1, round(p.target_rate_per_s * quick.params["point_s"]))
            assert p.received <= p.sent <= p.planned == planned
            assert p.achieved_rate_per_s <= p.received / quick.params["point_s"] + 1e-9
            assert p.p50_ms <= p.p95_ms <= p.p99_ms <= p.p999_ms <= p.max_ms
            assert p.p50_ms > 0 and p.send_cpu_us_per_msg > 0 and p.recv_cpu_us_per_msg > 0
            assert p.meets_slo == (p.achieved_rate_per_s >= 0.95 * p.target_rate_per_s
                                   and p.p99_ms <= quick.params["slo_p99_ms"])  # fmt: skip
    # Something saturated below the top of the series: the sweep found a limit.
    assert any(c.ended_by == "saturated" for c in quick.curves)
    assert lessons.check("throughput", quick) == []


def test_a_sweep_the_host_stole_from_is_said_in_the_table():
    """A curve whose sweep lost 2 % or more of the CPU time to the host (steal) says so in
    the table, with a line on what it means; below, nothing is said."""
    import dataclasses

    from labs.throughput_result import Curve, ThroughputResult

    base = {f.name: None for f in dataclasses.fields(Curve)}
    base |= {"config": "pubsub redis-py 100B", "system": "pubsub", "client": "redis-py",
             "acks": "1", "linger_ms": 0, "compression": "none", "size_bytes": 100,
             "replicas": 1, "rates_per_s": (1000.0,), "achieved_per_s": (1000.0,),
             "p99_ms": (1.0,), "sustainable_rate_per_s": 1000.0, "saturated_at_per_s": None,
             "ended_by": "last rate"}  # fmt: skip

    def table(steal: float) -> str:
        curve = Curve(**(base | {"steal_share": steal}))
        return ThroughputResult(0, {"slo_p99_ms": 5.0}, {"run_id": "x"}, (), (curve,), 1.0).table()

    assert "host steal 4.7%" in table(0.047) and "host steal:" in table(0.047)
    assert "steal" not in table(0.011) and "steal" not in table(float("nan"))


@pytest.mark.brokers
def test_larger_messages_lower_the_sustainable_rate(quick):
    small = quick.curve("kafka-python acks=1 linger=0 none 100B")
    large = quick.curve("kafka-python acks=1 linger=0 none 100KB")
    assert large.ended_by == "saturated"  # measured, not the sweep's byte cap
    assert large.sustainable_rate_per_s < small.sustainable_rate_per_s
    # ... and it delivered at most a quarter of the messages a second (its consumer decodes
    # in Python at about 20 MB/s; 100 B messages go at thousands a second).
    assert 4 * max(large.achieved_per_s) <= max(small.achieved_per_s)


@pytest.mark.brokers
def test_json_from_the_command_line():
    proc = subprocess.run(
        [sys.executable, "-m", "labs", "run", "throughput", "--configs", "quick", "--json",
         "--point-s", "0.3", "--min-rate-per-s", "200", "--max-rate-per-s", "800",
         "--steps", "3"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["name"] == "throughput" and data["params"]["steps"] == 3
    assert {c["system"] for c in data["curves"]} == {"pubsub", "streams", "kafka"}
    for curve in data["curves"]:
        assert set(curve) >= {"rates_per_s", "achieved_per_s", "sustainable_rate_per_s"}
        assert curve["rates_per_s"][0] == 200.0
    point = data["points"][0]
    for key in ("p50_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms", "achieved_rate_per_s",
                "send_cpu_us_per_msg", "recv_cpu_us_per_msg", "saturated"):  # fmt: skip
        assert key in point


@pytest.mark.brokers
@pytest.mark.parametrize("config", [KAFKA, Config("streams")], ids=lambda c: c.system)
def test_a_consumer_pause_shows_in_the_tail(config):
    """The consumer stops 1.5 s once: the messages intended meanwhile wait, and their
    latency from the intended send time shows it; a run without the pause does not."""
    with scratch("throughput") as s, Session(s, config.sized(100)) as session:
        calm = session.point(1000.0, PAUSE_POINT_S, slo_p99_ms=SLO_MS)
        paused = session.point(1000.0, PAUSE_POINT_S, slo_p99_ms=SLO_MS, consumer_pause_ms=PAUSE_MS)
    assert paused.max_ms >= 0.9 * PAUSE_MS and paused.p999_ms >= 0.8 * PAUSE_MS, paused
    assert calm.p999_ms < 0.5 * PAUSE_MS, calm
    assert paused.received == paused.sent == 3000  # delayed, not lost


@pytest.mark.brokers
def test_a_session_collects_its_clients_setup_before_it_measures():
    """Opening a kafka-python session leaves garbage enough for a full collection of the
    interpreter's heap: in a script of its own, one fell inside the first point in 2 runs
    of 2 (47-61 ms; that point's p99 168-209 ms, 21-24 ms once the session collected first).
    The session runs it while it opens, and none falls in the first point."""
    full: list[str] = []
    where = ["opening"]

    def note(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            full.append(where[0])

    config = Config("kafka", "kafka-python").sized(100)
    gc.callbacks.append(note)
    try:
        with scratch("throughput") as s, Session(s, config) as session:
            where[0] = "first point"
            p = session.point(2000.0, 2.0, slo_p99_ms=SLO_MS)
            where[0] = "closing"
    finally:
        gc.callbacks.remove(note)
    assert p.received == p.sent == 4000, p
    assert "opening" in full and "first point" not in full, full


@pytest.mark.brokers
def test_points_count_the_requests_and_the_receive_calls():
    """What the throughput twin calibrates its request cycles on: kafka-python's produce
    batches (its records share one produce future per batch) and the receive calls that
    brought messages. At 2,000 msg/s kafka-python's I/O thread sends some requests with
    more than one message; Redis' pipeline is the send loop's wake-up (no request of the
    client's own: 0)."""
    with scratch("throughput") as s:
        for config in (Config("kafka", "kafka-python"), Config("pubsub")):
            with Session(s, config.sized(100), label=config.system) as session:
                p = session.point(2000.0, 0.5, slo_p99_ms=SLO_MS)
            assert p.received == p.sent == 1000, p
            assert 1 <= p.recv_batches <= p.received, p
            assert 0 < p.send_busy_cv < 5, p  # the wake-ups' spread (the body's std / mean)
            if config.system == "kafka":
                assert 1 <= p.send_requests < p.sent, p
            else:
                assert p.send_requests == 0, p


@pytest.mark.brokers
def test_a_sender_stall_counts_from_the_intended_time():
    """Coordinated omission: the sending thread stalls 1.5 s once; the messages due
    meanwhile go out late, in a burst. Measured from their real send time they would look
    fast; measured from their intended time (as the lab does) the stall shows."""
    with scratch("throughput") as s, Session(s, KAFKA.sized(100)) as session:
        send, stalled = session.link.send, []

        def send_with_one_stall(payloads):
            if not stalled and session.clock.now() > t0 + 0.5:
                stalled.append(True)
                import time

                time.sleep(PAUSE_MS / 1000)
            return send(payloads)

        t0 = session.clock.now()
        session.link.send = send_with_one_stall
        p = session.point(1000.0, PAUSE_POINT_S, slo_p99_ms=SLO_MS)
    assert stalled
    assert p.max_ms >= 0.9 * PAUSE_MS and p.p99_ms >= 0.5 * PAUSE_MS, p


def _acks_medians(replicas: int, rate: float) -> dict[str, float]:
    """Median over 3 interleaved 1 s points of each setting's ack p50 (confluent-kafka)."""
    configs = [Config("kafka", "confluent-kafka", acks=a, replicas=replicas) for a in ("1", "all")]
    got: dict[str, list[float]] = {"1": [], "all": []}
    with cluster_for(configs), scratch("throughput") as s:
        sessions = [Session(s, c.sized(100), label=f"acks{c.acks}") for c in configs]
        try:
            for _ in range(3):  # interleaved: a slow spell of the machine hits both
                for session in sessions:
                    p = session.point(rate, 1.0, slo_p99_ms=50.0)
                    got[session.config.acks].append(p.ack_p50_ms)
        finally:
            for session in sessions:
                session.close()
    return {k: statistics.median(v) for k, v in got.items()}


@pytest.mark.brokers
def test_acks_all_costs_latency_on_a_replicated_topic():
    """On the 3-broker cluster (replication 3, min.insync.replicas 2) acks=all waits for a
    follower before the broker answers, and the broker answers one request per connection
    at a time: at 1000 msg/s the producer's acknowledgements come later than with acks=1.
    Medians of 3 interleaved points each (seen here: about 30 ms against 100s of ms on a
    quiet machine; 564 against 798 ms while other work loaded both cores, which lengthens
    both). The wait for a follower's fetch is an additional delay, not a factor: at least
    10 ms more."""
    m = _acks_medians(3, 1000.0)
    assert m["all"] >= m["1"] + 10.0, m


@pytest.mark.brokers
def test_acks_all_costs_nothing_on_one_broker():
    """On the course's single broker the in-sync replicas are the leader alone: acks=all
    waits for nothing more (seen here: 1.16 and 1.16 ms)."""
    m = _acks_medians(1, 1000.0)
    assert abs(m["all"] - m["1"]) <= max(2.0, 0.5 * m["1"]), m

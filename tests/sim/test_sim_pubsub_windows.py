"""Pub/Sub output-buffer limits: windowed evaluation equals one pass over all messages."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.models import pubsub


@settings(
    max_examples=int(os.environ.get("SIM_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(
    rate=st.floats(100, 800),
    size=st.integers(500, 5000),
    mean_ms=st.floats(0.5, 8),
    hard_kb=st.sampled_from([0, 20, 100]),
    soft_kb=st.sampled_from([0, 10, 50]),
    soft_s=st.floats(0, 0.5),
    reconnect_ms=st.sampled_from([0, 50, 300]),
    window=st.integers(1, 40),
    seed=st.integers(0, 1000),
)
def test_windows_do_not_change_the_outcome(
    rate, size, mean_ms, hard_kb, soft_kb, soft_s, reconnect_ms, window, seed
):
    sc = sim.Scenario.from_dict(
        {
            "workload": {"rate_per_s": rate, "duration_s": 3, "size_bytes": size, "size_cv": 0.5},
            "topology": {
                "pubsub": {
                    "buffer_hard_bytes": hard_kb * 1024,
                    "buffer_soft_bytes": soft_kb * 1024,
                    "buffer_soft_s": soft_s,
                }
            },
            "consumers": {
                "subscribers": [
                    {
                        "service": {"kind": "exponential", "mean_ms": mean_ms},
                        "reconnect_delay_ms": reconnect_ms,
                    }
                ]
            },
            "drain_s": 2,
        }
    )
    whole = pytest.MonkeyPatch.context()
    with whole as mp:
        mp.setattr(pubsub, "WINDOW", 10**9)
        one = sim.run(sc, seed=seed)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pubsub, "WINDOW", window)
        many = sim.run(sc, seed=seed)
    a, b = one.history.reader("subscriber:0"), many.history.reader("subscriber:0")
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_allclose(a.times, b.times)
    assert dict(one.metrics) == dict(many.metrics)


def test_connection_changes_are_simpy_events():
    """Planned outages and buffer-limit disconnects happen on the SimPy clock, in order."""
    import simpy

    sc = sim.Scenario.from_dict(
        {
            "workload": {"rate_per_s": 400, "duration_s": 6, "size_bytes": 4096},
            "topology": {"pubsub": {"buffer_hard_bytes": 64 * 1024, "buffer_soft_bytes": 0}},
            "consumers": {
                "subscribers": [{"service": {"mean_ms": 2.0}, "reconnect_delay_ms": 100}]
            },
            "faults": [
                ["subscriber_down", "subscriber:0", 1.0, 0.5],
                ["slow_consumer", "subscriber:0", 3.0, 1.0, 20],
            ],
            "drain_s": 1,
        }
    )
    msgs = sim.core.engine.generate(sc.workload, np.random.SeedSequence(4).spawn(4))
    env = simpy.Environment()
    seen = []
    channel = pubsub.ChannelSim(
        env,
        sc.topology.pubsub,
        sc.consumers.subscribers,
        msgs,
        sc.faults,
        np.random.SeedSequence(5).spawn(1),
        8.0,
    )
    sub = channel.subs[0]
    env.process(_watch(env, sub, seen))
    env.run(until=8.0)
    readers, _, metrics, _ = channel.results()
    changes = list(sub.changes)
    assert changes[:2] == [(1.0, "down"), (1.6, "up")]  # the outage plus the reconnect delay
    buffer = [t for t, what in changes[2:] if what == "down"]
    assert buffer and all(3.0 <= t < 4.2 for t in buffer)  # the slow spell overflows the buffer
    assert [w for _, w in changes] == ["down", "up"] * (len(changes) // 2)
    assert metrics["disconnects:subscriber:0"] == len(changes) // 2
    assert metrics["buffer_disconnects:subscriber:0"] == len(buffer)
    # The watcher saw each change at the instant it was recorded: they are clock events.
    assert seen == changes


def _watch(env, sub, seen):
    while True:
        yield env.timeout(0.001)
        while len(seen) < len(sub.changes):
            t, what = sub.changes[len(seen)]
            assert t <= env.now < t + 0.0011
            seen.append((t, what))

"""Pub/Sub output-buffer limits: windowed evaluation equals one pass over all messages."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim import pubsub


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

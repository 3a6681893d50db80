"""Lab parameters, workload and recording helpers -- no brokers needed."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from labs import registry
from labs.recording import Worker, catch_up_time, global_inversions, lag_series
from labs.workload import arrival_times, keys, message_id, message_key, payload


@pytest.mark.parametrize("name", sorted(registry.LABS))
def test_registry_documents_every_parameter(name):
    lab = registry.LABS[name]
    sig = inspect.signature(lab.run)
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in sig.parameters.values())
    assert set(lab.params) == set(sig.parameters) - {"seed"}
    for pname, param in lab.params.items():
        default = sig.parameters[pname].default
        assert isinstance(default, param.type), (pname, default)
        if param.choices:
            assert default in param.choices
        elif param.type is not bool:
            assert param.low <= default <= param.high, pname


@pytest.mark.parametrize(
    ("name", "params", "bad"),
    [
        ("loss", {"rate_per_s": 0}, "rate_per_s"),
        ("loss", {"down_for_s": 5.0}, "down_for_s"),
        ("loss", {"arrivals": "bursty"}, "arrivals"),
        ("replay", {"retention_ms": 10}, "retention_ms"),
        ("hot_partitions", {"key_distribution": "normal"}, "key_distribution"),
        ("idempotency", {"crash_after": 100}, "crash_after"),
        ("ordering", {"commit_on_revoke": "yes"}, "commit_on_revoke"),
        ("backpressure", {"service_rate_per_s": 5000.0}, "service_rate_per_s"),
        ("poison", {"max_retries": 11}, "max_retries"),
        ("streams", {"batch": 0}, "batch"),
        ("hybrid", {"partitions": 0}, "partitions"),
    ],
)
def test_bad_parameters_fail_before_touching_brokers(name, params, bad):
    with pytest.raises(ValueError, match=f'"{bad}"'):
        registry.run(name, **params)


def test_unknown_parameter_names_are_rejected():
    with pytest.raises(ValueError, match="no parameter"):
        registry.run("loss", rate=10)


def test_workload_is_seeded():
    a = keys(1000, 50, distribution="zipf", zipf_s=1.3, rng=np.random.default_rng(1))
    b = keys(1000, 50, distribution="zipf", zipf_s=1.3, rng=np.random.default_rng(1))
    assert np.array_equal(a, b)
    assert np.bincount(a).argmax() == 0  # key 0 is the hottest
    assert arrival_times(100, 2.0).size == 200
    poisson = arrival_times(100, 2.0, arrivals="poisson", rng=np.random.default_rng(2))
    assert np.all(np.diff(poisson) >= 0) and poisson.max() < 2.0


def test_payload_round_trip():
    body = payload(42, 64, key=7)
    assert len(body) == 64
    assert (message_id(body), message_key(body)) == (42, 7)
    assert message_key(payload(3)) == -1


def test_recording_helpers():
    lag = lag_series("lag", np.array([0.0, 0.1, 0.2]), np.array([0.5, 0.5, 0.6]), end=1.0, step=0.1)
    assert lag.value.max() == 3
    assert catch_up_time(lag, after=0.3) == pytest.approx(0.3)
    assert global_inversions([0, 2, 1, 3]) == 1
    w = Worker(10.0)
    f = w.finish_time(1.0)
    w.complete(f)
    assert f == pytest.approx(1.1)
    assert w.finish_time(0.0) == pytest.approx(1.2)

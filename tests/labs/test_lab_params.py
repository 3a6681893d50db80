"""Lab parameters, workload and recording helpers -- no brokers needed."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import sim
from labs import registry
from labs.recording import Worker, catch_up_time, global_inversions, lag_series
from labs.workload import draw, message_id, message_key, payload
from sim.core.scenario import Scenario, Workload


@pytest.mark.parametrize("name", sorted(registry.LABS))
def test_lab_signature_matches_its_declaration(name):
    """The lab function's keyword defaults are the declaration's (one source, checked)."""
    lab = registry.LABS[name]
    sig = inspect.signature(lab.run)
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in sig.parameters.values())
    assert list(lab.params.names) == [n for n in sig.parameters if n != "seed"]
    for param in lab.params:
        assert sig.parameters[param.name].default == param.default, param.name
        assert type(sig.parameters[param.name].default) is param.type, param.name


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
        ("streams_ops", {"max_deliveries": 0}, "max_deliveries"),
        ("hybrid", {"partitions": 0}, "partitions"),
    ],
)
def test_bad_parameters_fail_before_touching_brokers(name, params, bad):
    with pytest.raises(ValueError, match=f'"{bad}"'):
        registry.run(name, **params)


def test_unknown_parameter_names_are_rejected():
    with pytest.raises(ValueError, match="no parameter"):
        registry.run("loss", rate=10)


@pytest.mark.parametrize("arrivals", ["constant", "poisson"])
def test_lab_workload_is_the_simulators(arrivals):
    """A lab draws exactly what sim.run generates for the same workload and seed."""
    w = Workload(rate_per_s=100, duration_s=2.0, arrivals=arrivals, keys=50,
                 key_distribution="zipf", zipf_s=1.3)  # fmt: skip
    lab = draw(w, 7)
    simulated = sim.run(Scenario(workload=w, consumers={"subscribers": 1}, drain_s=0), seed=7)
    assert np.array_equal(lab.keys, simulated.history.keys)
    assert np.array_equal(lab.publish_time, simulated.history.publish_time)
    assert np.bincount(lab.keys).argmax() == 0  # key 0 is the hottest
    assert not np.array_equal(lab.keys, draw(w, 8).keys)  # the seed matters
    if arrivals == "constant":
        assert len(lab) == 200


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

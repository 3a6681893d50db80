"""Scenarios as data: defaults, validation, loading, and fuzzed bad input."""

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.core.faults import Fault
from sim.core.scenario import Scenario
from sim.core.workload import Workload
from sim.models.groups import Group
from sim.models.log import Log

SCENARIOS = sorted((Path(sim.__file__).parent / "scenarios").glob("*.yaml"))


def test_defaults_are_valid_and_round_trip():
    s = Scenario()
    assert Scenario.from_dict(s.to_dict()) == s
    full = Scenario.from_dict(
        {"consumers": {"subscribers": 2, "groups": [{}], "stream_groups": [{}]}}
    )
    assert full.topology.pubsub and full.topology.log and full.topology.stream
    assert Scenario.from_dict(full.to_dict()) == full
    assert full.topology.pubsub.buffer_hard_bytes == 32 * 1024 * 1024  # Redis default
    assert full.topology.pubsub.buffer_soft_bytes == 8 * 1024 * 1024
    assert full.topology.pubsub.buffer_soft_s == 60


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Workload().rate_per_s = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("cls", "kwargs", "field"),
    [
        (Workload, {"rate_per_s": 0}, "rate_per_s"),
        (Workload, {"zipf_s": -1}, "zipf_s"),
        (Workload, {"keys": 2.5}, "keys"),
        (Workload, {"arrivals": "weibull"}, "arrivals"),
        (Log, {"partitions": 0}, "partitions"),
        (Log, {"acks": "2"}, "acks"),
        (Log, {"enable_idempotence": True, "acks": "1"}, "enable_idempotence"),
        (Group, {"commit": "sometimes"}, "commit"),
        (Group, {"session_timeout_ms": float("nan")}, "session_timeout_ms"),
        (Fault, {"kind": "meteor", "target": "log", "start_s": 0, "duration_s": 1}, "kind"),
        (
            Fault,
            {"kind": "subscriber_down", "target": "group:0:0", "start_s": 0, "duration_s": 1},
            "target",
        ),
    ],
)
def test_bad_values_raise_value_error_naming_the_field(cls, kwargs, field):
    with pytest.raises(ValueError, match=re.escape(f'"{field}"')):
        cls(**kwargs)


def test_wrong_types_raise_type_error_naming_the_field():
    with pytest.raises(TypeError, match='"rate_per_s"'):
        Workload(rate_per_s="fast")
    with pytest.raises(TypeError, match='"enable_idempotence"'):
        Log(enable_idempotence="yes")


def test_unknown_fields_are_errors_naming_them():
    with pytest.raises(ValueError, match="linger"):
        Scenario.from_dict({"topology": {"log": {"linger": 5}}})
    with pytest.raises(ValueError, match="colour"):
        Scenario.from_dict({"colour": "red"})


def test_fault_targets_are_checked_against_the_scenario():
    with pytest.raises(ValueError, match='"target"'):
        Scenario.from_dict(
            {
                "consumers": {"groups": [{"consumers": 2}]},
                "faults": [["consumer_crash", "group:0:2", 1, 1]],
            }
        )
    with pytest.raises(ValueError, match='"target"'):
        Scenario.from_dict({"faults": [["subscriber_down", "subscriber:0", 1, 1]]})


def test_yaml_loading_and_changes(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"workload": {"rate_per_s": 10}, "consumers": {"groups": [{}]}}))
    s = Scenario.from_yaml(path)
    assert s.workload.rate_per_s == 10.0
    t = s.with_changes(**{"consumers.groups.0.consumers": 3, "workload.zipf_s": 2})
    assert t.consumers.groups[0].consumers == 3 and t.workload.zipf_s == 2.0
    with pytest.raises(ValueError, match="nope"):
        s.with_changes(**{"workload.nope": 1})


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_bundled_scenarios_load_and_run(path):
    s = sim.load(path)
    assert s.description
    short = s.with_changes(
        **{"workload.duration_s": min(s.workload.duration_s, 30.0), "drain_s": 5}
    )
    r = sim.run(short, seed=1)
    assert r.report.rows


# ------------------------------------------------------------------ fuzzing


def _paths(obj, prefix=""):
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        yield prefix + f.name
        if dataclasses.is_dataclass(v):
            yield from _paths(v, prefix + f.name + ".")
        elif isinstance(v, tuple) and v and dataclasses.is_dataclass(v[0]):
            yield from _paths(v[0], prefix + f.name + ".0.")


BASE = Scenario.from_dict(
    {
        "consumers": {"subscribers": 1, "groups": [{}], "stream_groups": [{}]},
        "faults": [["consumer_crash", "group:0:0", 1, 1]],
    }
)
PATHS = sorted(set(_paths(BASE)))
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(-3, 3), max_size=6),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(changes=st.dictionaries(st.sampled_from(PATHS), values, min_size=1, max_size=3))
def test_fuzzed_construction_raises_only_value_or_type_errors_naming_a_field(changes):
    try:
        BASE.with_changes(**changes)
    except (ValueError, TypeError) as exc:
        names = {p.rsplit(".", 1)[-1] for p in changes} | {p.split(".")[0] for p in changes}
        msg = str(exc)
        named = any(re.search(rf"\b{re.escape(n)}\b", msg) for n in names)
        # Cross-field checks name a field other than the one changed; they must still
        # name *a* field of the scenario.
        assert named or any(f'"{n.rsplit(".", 1)[-1]}"' in msg for n in PATHS), msg


@settings(max_examples=50, deadline=None)
@given(key=st.text(min_size=1, max_size=12), value=values)
def test_fuzzed_unknown_fields_are_rejected(key, value):
    known = {f.name for f in dataclasses.fields(Workload)}
    try:
        Scenario.from_dict({"workload": {key: value}})
    except (ValueError, TypeError) as exc:
        if key not in known:
            assert key in str(exc) or repr(key) in str(exc)
    else:
        assert key in known


def test_run_publishes_exactly_the_messages_it_is_given():
    from sim.core.workload import Messages

    t = np.array([0.0, 0.1, 0.2, 0.5])
    msgs = Messages(
        publish_time=t,
        keys=np.array([3, 1, 3, -1]),
        size=np.full(4, 100),
        poison=np.zeros(4, bool),
    )
    scenario = {"workload": {"rate_per_s": 1000, "duration_s": 9}, "consumers": {"groups": [{}]}}
    result = sim.run(scenario, seed=2, messages=msgs)
    assert result.history.messages == 4
    assert np.array_equal(result.history.keys, [3, 1, 3, -1])
    assert np.array_equal(result.history.publish_time, t)


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("publish_time", np.array([0.2, 0.1]), "non-decreasing"),
        ("keys", np.array([1]), "messages.keys"),
        ("size", np.array([-1, 5]), "messages.size"),
    ],
)
def test_run_refuses_malformed_messages_naming_the_field(field, value, needle):
    from sim.core.workload import Messages

    base = {
        "publish_time": np.array([0.0, 0.1]),
        "keys": np.array([1, 2]),
        "size": np.array([10, 10]),
        "poison": np.zeros(2, bool),
    }
    base[field] = value
    with pytest.raises(ValueError, match=needle):
        sim.run(
            {"workload": {"rate_per_s": 10, "duration_s": 1}}, seed=0, messages=Messages(**base)
        )

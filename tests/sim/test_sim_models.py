"""The broker-model registry: every model declares what the engine and scenarios need."""

import dataclasses

import pytest

import sim
from sim.core.faults import SCENARIO_FAULTS, TARGETS
from sim.models.base import SEED_STREAMS, Model, seed_streams
from sim.models.registry import MODELS


def test_topology_and_consumers_have_one_field_per_model_in_registry_order():
    assert [f.name for f in dataclasses.fields(sim.Topology)] == [m.section for m in MODELS]
    assert [f.name for f in dataclasses.fields(sim.Consumers)] == [m.readers_field for m in MODELS]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.section)
def test_a_model_declares_its_section_targets_and_streams(model: Model):
    assert model.section in model.targets and model.reader_kind in model.targets
    assert set(model.targets) <= set(TARGETS)
    hit = {t for kinds in SCENARIO_FAULTS.values() for t in kinds}
    assert set(model.targets) <= hit  # every target it owns can be hit by some fault
    assert model.seed_streams and set(model.seed_streams) <= set(seed_streams(MODELS))
    # Its settings and readers are frozen dataclasses with valid defaults.
    assert dataclasses.is_dataclass(model.settings()) and dataclasses.is_dataclass(model.reader())


def test_targets_are_owned_by_exactly_one_model_and_precedence_is_strict():
    owned = [t for m in MODELS for t in m.targets]
    assert len(owned) == len(set(owned))
    assert len({m.precedence for m in MODELS}) == len(MODELS)


def test_seed_streams_keep_the_first_order_and_append_new_names():
    class Extra:
        seed_streams = ("groups", "bridge")

    assert seed_streams([*MODELS, Extra()]) == (*SEED_STREAMS, "bridge")


def test_the_outcome_comes_from_the_model_with_the_highest_precedence():
    """A log acknowledges what the stream refused while the stream's server was down."""
    s = {
        "workload": {"rate_per_s": 100, "duration_s": 2},
        "consumers": {"groups": [{}], "stream_groups": [{}]},
        "faults": [["broker_down", "stream", 0.5, 0.5]],
        "drain_s": 5,
    }
    both = sim.run(s, seed=3)
    only_stream = sim.run({**s, "consumers": {"stream_groups": [{}]}}, seed=3)
    assert (both.history.outcome == sim.OK).all()
    assert (only_stream.history.outcome == sim.FAILED).sum() > 0

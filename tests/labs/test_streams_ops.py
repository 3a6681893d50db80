"""Streams-ops lab: monitoring, dead letters after N deliveries, DELCONSUMER, trimming."""

from __future__ import annotations

import pytest

from labs.exercises import streams_ops as exercises
from labs.lessons import check
from labs.streams_ops import run_streams_ops

pytestmark = pytest.mark.brokers


def test_default_run_dead_letters_after_n_deliveries_and_counts_what_trimming_took():
    result = run_streams_ops()
    # The lesson (labs.lessons): dead-lettered == records whose every delivery failed, each
    # after max_deliveries deliveries; DELCONSUMER drops `abandoned` pending entries (none
    # once XCLAIMed first); trimming leaves pending ids without data and loses unread ones.
    assert check("streams-ops", result) == []
    m = result.metrics
    assert m["dead_lettered"] >= 1 and m["max_delivery_count"] == 3
    assert m["pending_dropped_by_delconsumer"] == 5
    assert m["pending_trimmed"] == 150 and m["trimmed_unread"] == 150
    # Retries through the claimer reorder a key's records; a stream per shard does not.
    assert result.report["stream-group:ops"].reordered > 0
    assert result.report["shards"].reordered == 0


@pytest.mark.parametrize(
    "params",
    [
        dict(max_deliveries=1, failure_probability=0.0, poison_fraction=0.2, messages=30, shards=1),
        dict(max_deliveries=5, failure_probability=0.6, batch=3, abandoned=0, shards=4, seed=3),
        # MAXLEN ~ keeps whole nodes (more than asked); MINID keeps more than MAXLEN did:
        # part of what s1 held survives and is claimed, the rest comes back as deleted ids.
        dict(trim_messages=250, slow_read=120, maxlen=30, minid_keep=180),
    ],
)
def test_the_lesson_holds_across_parameters(params):
    result = run_streams_ops(**params)
    assert check("streams-ops", result) == []


def test_no_failure_means_no_dead_letter_and_an_empty_pel():
    result = run_streams_ops(failure_probability=0.0, poison_fraction=0.0, abandoned=0)
    assert check("streams-ops", result) == []
    assert result.metrics["dead_lettered"] == 0
    assert result.metrics["pending_after_first_pass"] == 0


def test_bad_parameter_names_its_range():
    with pytest.raises(ValueError, match="minid_keep"):
        run_streams_ops(trim_messages=10, slow_read=5, maxlen=5, minid_keep=11)


def test_every_learners_exercise_variant_accepts_its_solution_on_the_real_lab(monkeypatch):
    wrong = []
    for choice in exercises._TRIM:
        monkeypatch.setattr(exercises, "for_learner", lambda key, options, c=choice: c)
        ex = exercises.claimable_after_trim(run_streams_ops)
        if not ex.check(ex.solution).correct:
            wrong.append((choice, ex.solution, ex.expected_value()))
    assert wrong == []

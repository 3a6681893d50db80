"""The exercise API: a verdict shows the expected value only when the answer is right.

Offline: the exercises here compute plain numbers, no broker is needed.
"""

from __future__ import annotations

import numpy as np
import pytest

from labs.exercises import Exercise, created, for_learner, shown


def _exercise(key="api-test", expected=0.024829526139325302, **kw):
    calls = []

    def compute():
        calls.append(1)
        return expected

    kw.setdefault("solution", 15 / 600)
    kw.setdefault("explanation", "Downtime / window = 15 / 600.")
    return Exercise(key, "What fraction is missed?", compute, **kw), calls


def test_the_placeholder_is_not_answered_and_computes_nothing():
    ex, calls = _exercise(rel_tol=0.05)
    for answer in (..., {"a": ...}, [1, ...]):
        verdict = ex.check(answer)
        assert not verdict.answered and not verdict.correct
        assert str(verdict).startswith("Not answered yet")
    assert calls == []  # the expected value is not even computed


def test_a_wrong_answer_never_shows_the_expected_value():
    ex, _ = _exercise(rel_tol=0.05, hint="downtime / window.")
    verdict = ex.check(0.5)
    assert verdict.answered and not verdict.correct
    assert str(verdict).startswith("Not quite: your answer was 0.5")
    assert "downtime / window." in str(verdict)
    for text in (str(verdict), repr(verdict), verdict._repr_markdown_(), repr(ex)):
        assert "0.0248" not in text and "0.025" not in text and "Correct" not in text


def test_a_wrong_dict_answer_names_the_keys_not_the_values():
    ex = Exercise("api-dict", "q", lambda: {"dup": 7, "lost": 3}, {"dup": 7, "lost": 3}, "x")
    verdict = ex.check({"dup": 7, "lost": 4})
    assert not verdict.correct and "lost" in str(verdict) and "3" not in str(verdict)
    assert not ex.check({"dup": 7}).correct  # a missing key is wrong
    assert not ex.check(7).correct
    assert ex.check({"dup": 7, "lost": 3}).correct
    assert str(ex.check({"dup": 7, "lost": 3})) == "Correct: dup: 7, lost: 3."


def test_the_right_answer_is_correct_and_shows_the_rounded_value():
    ex, calls = _exercise(rel_tol=0.05)
    verdict = ex.check(0.025)
    assert verdict.answered and verdict.correct
    assert str(verdict) == "Correct: 0.0248."
    assert verdict._repr_markdown_() == "✅ Correct: 0.0248."  # the text reads without the emoji
    assert ex.check(ex.solution).correct
    assert calls == [1]  # computed once, cached


def test_rel_tol_is_relative_to_the_expected_value():
    ex, _ = _exercise(expected=60_000, solution=60_000, rel_tol=0.05)
    assert ex.check(57_001).correct and ex.check(62_999).correct
    assert not ex.check(56_999).correct and not ex.check(63_001).correct
    exact, _ = _exercise(key="api-exact", expected=4, solution=4)
    assert exact.check(4).correct and exact.check(4.0).correct and not exact.check(5).correct
    assert exact.check(np.int64(4)).correct


@pytest.mark.parametrize("rel_tol", [-0.1, 1.0, "5%"])
def test_rel_tol_outside_its_range_is_a_clear_error(rel_tol):
    with pytest.raises(ValueError, match="rel_tol must be in"):
        _exercise(rel_tol=rel_tol)


def test_a_key_and_a_callable_are_required():
    with pytest.raises(ValueError, match="key"):
        Exercise("", "q", lambda: 1, 1, "x")
    with pytest.raises(ValueError, match="expected must be a callable"):
        Exercise("api-bad", "q", 1, 1, "x")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.024829526139325302, "0.0248"),
        (45123.7, "45100"),
        (45123, "45123"),
        (np.int64(7), "7"),
        (np.float64(1234.5678), "1230"),
        (0.5, "0.5"),
        (27.595, "27.6"),  # not 27.600000000000001
        (1.23456e-7, "0.000000123"),
        (True, "True"),
        ("CRC32", "CRC32"),
        ((1, 0.333333), "(1, 0.333)"),
    ],
)
def test_numbers_are_shown_rounded_to_three_significant_digits(value, text):
    assert shown(value) == text


def test_reveal_shows_the_explanation_and_the_value():
    ex, _ = _exercise(rel_tol=0.05)
    shown_md = ex.reveal()._repr_markdown_()
    assert "Downtime / window = 15 / 600." in shown_md and "**Answer:** 0.0248" in shown_md
    assert "0.0248" in str(ex.reveal())


def test_strings_compare_without_case_and_surrounding_spaces():
    ex = Exercise("api-str", "q", lambda: "latest", "latest", "x")
    assert ex.check("  Latest ").correct and not ex.check("earliest").correct


def test_every_exercise_is_registered_the_newest_per_key():
    first, _ = _exercise(key="api-registry")
    assert created()[-1] is first
    again, _ = _exercise(key="api-registry")  # a re-run cell replaces its exercise
    assert created()[-1] is again
    assert [e.key for e in created()].count("api-registry") == 1
    assert first not in created()


def test_the_representation_shows_the_question_not_the_answer():
    ex, _ = _exercise(rel_tol=0.05)
    assert repr(ex) == "Exercise api-test: What fraction is missed? Within 5% counts as right."
    assert "0.025" not in ex._repr_markdown_()


def test_for_learner_is_stable_per_learner_and_differs_between_learners(monkeypatch):
    choices = list(range(1000))
    monkeypatch.setenv("COURSE_LEARNER", "ada")
    ada = for_learner("api", choices)
    assert for_learner("api", choices) == ada
    picks = set()
    for name in ("bob", "carol", "dave", "erin", "frank"):
        monkeypatch.setenv("COURSE_LEARNER", name)
        picks.add(for_learner("api", choices))
    assert len(picks | {ada}) > 1
    with pytest.raises(ValueError, match="choices"):
        for_learner("api", [])

"""Every learner's variant of lesson 14's exercise accepts its own worked solution, and a
wrong answer (the missed count where the stream was trimmed below it) is refused.
Offline: the check runs the simulator."""

from __future__ import annotations

import pytest

from labs.exercises import reconnects

CHOICES = reconnects.CHOICES["14-repaired"]


@pytest.mark.parametrize("choice", CHOICES, ids=[str(c) for c in CHOICES])
def test_every_variant_accepts_its_solution(monkeypatch, choice):
    monkeypatch.setattr(reconnects, "for_learner", lambda key, options: choice)
    ex = reconnects.repaired_after_gap()
    assert ex.check(ex.solution).correct, (choice, ex.solution)
    rate, down, maxlen = choice
    if maxlen and maxlen - 1 < rate * down:  # "everything missed" is the tempting mistake
        assert not ex.check(rate * down).correct


def test_the_lessons_own_example_is_not_a_variant():
    # The lesson prints 200/s x 0.5 s untrimmed; no learner is asked about those numbers.
    assert (200.0, 0.5, 0) not in CHOICES

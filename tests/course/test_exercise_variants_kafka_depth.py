"""Every learner's variant of lesson 17's exercises accepts its own worked solution.

Each variant (:data:`labs.exercises.kafka_depth.CHOICES`) is built and checked against the
real lab with its ``solution`` -- the theory a learner reasons with -- so no learner gets an
exercise whose right answer is marked wrong. Real broker.
"""

from __future__ import annotations

import pytest

from labs.exercises import kafka_depth

pytestmark = pytest.mark.brokers

BUILDERS = {
    "17-compacted-records": kafka_depth.compacted_records,
    "17-outbox-events": kafka_depth.outbox_events,
}
VARIANTS = [(key, choice) for key, choices in kafka_depth.CHOICES.items() for choice in choices]


@pytest.mark.parametrize(("key", "choice"), VARIANTS, ids=[f"{k}-{c}" for k, c in VARIANTS])
def test_the_worked_solution_checks_correct_on_the_real_broker(monkeypatch, key, choice):
    monkeypatch.setattr(kafka_depth, "for_learner", lambda k, choices: choice)
    ex = BUILDERS[key]()
    verdict = ex.check(ex.solution)
    assert verdict.correct, (verdict.message, ex.expected_value(), ex.solution)

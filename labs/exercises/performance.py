"""The exercise of lesson 19 (performance): the sustainable rate for an SLO.

The learner gets an SLO (p99 at most ``S`` ms, fixed per learner by
:func:`~labs.exercises.core.for_learner`) and one configuration of the lesson's sweep,
predicts from the latency curves the highest offered rate that configuration sustained --
delivered (95 % of the rate got through) with p99 within ``S`` -- and the check computes it
from the sweep's points (:func:`labs.throughput_plot.sustainable_rate`). The lesson's
figure draws the lab's own SLO, never the learner's.
"""

from __future__ import annotations

from labs.exercises.core import Exercise, for_learner
from labs.throughput_plot import sustainable_rate
from labs.throughput_result import ThroughputResult

__all__ = ["CHOICES", "sustainable_rate_for_slo"]

#: The learner's SLO (p99, ms); the lesson's figure draws 50 ms.
CHOICES: dict[str, tuple[float, ...]] = {"19-sustainable-rate": (5.0, 10.0, 20.0, 30.0)}


def sustainable_rate_for_slo(result: ThroughputResult, config: str) -> Exercise:
    """Lesson 19: the highest rate ``config`` sustained in ``result`` for the learner's SLO."""
    slo = for_learner("19-sustainable-rate", CHOICES["19-sustainable-rate"])
    points = result.points_of(config)
    if not points:
        raise ValueError(f'"config" must be one of {[c.config for c in result.curves]}.')
    return Exercise(
        key="19-sustainable-rate",
        question=(
            f"Your SLO: **p99 at most {slo:g} ms**. In the p99 curves above, what is the "
            f"highest offered rate `{config}` sustained -- delivered with p99 within your "
            "SLO, and every lower rate too? Answer one of the rates on the curve's x axis "
            "(0 if even the lowest failed)."
        ),
        expected=lambda: sustainable_rate(points, slo),
        solution=sustainable_rate(points, slo),
        explanation=(
            "Walk the curve from the lowest rate: each point must deliver its rate and keep "
            f"p99 at or under {slo:g} ms; the last one before the first that fails is the "
            "sustainable rate. It sits well below the rate where the client saturates -- "
            "the tail rises long before the median does."
        ),
        hint="Read where the p99 line crosses your SLO, then take the rate just below.",
    )

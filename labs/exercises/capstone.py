"""The exercise of lesson 18 (capstone): when does the decision record's backlog alert fire?

The learner gets one durable event class (a rate and an outage, fixed per learner by
:func:`~labs.exercises.core.for_learner`) and the record's backlog rule -- ``lag >= rate x``
:data:`~sim.course.decision.record.LAG_BUDGET_S` ``for 60 s`` -- and predicts how many
seconds after the consumer stops the alert fires. The check decides the class with the
simulator (:func:`sim.course.decision.record.decide_class`) and reads when the rule fired in
its outage drill.
"""

from __future__ import annotations

from labs.exercises.core import Exercise, for_learner
from sim.course.decision import EventClass, EventSpec
from sim.course.decision.record import LAG_BUDGET_S, decide_class, outage_start

__all__ = ["CHOICES", "backlog_alert"]

#: (rate per second, outage in seconds) of the learner's event class.
CHOICES: dict[str, tuple[tuple[float, float], ...]] = {
    "18-backlog-alert": ((100.0, 150.0), (400.0, 240.0), (50.0, 600.0), (250.0, 120.0))
}


def _fires_after(rate: float, downtime: float) -> float:
    ec = EventClass("OrderPlaced", critical=True, rate_per_s=rate, downtime_s=downtime)
    d = decide_class(EventSpec(ec))
    backlog = next(a for a in d.alerts if a.rule.name == "backlog")
    return round(backlog.fires_at_s - outage_start(ec))


def backlog_alert() -> Exercise:
    """Lesson 18: seconds from the consumer's stop to the backlog alert."""
    rate, downtime = for_learner("18-backlog-alert", CHOICES["18-backlog-alert"])
    return Exercise(
        key="18-backlog-alert",
        question=(
            f"Your event class: **OrderPlaced**, critical, **{rate:g} events/s**, its consumer "
            f"away for **{downtime:g} s**. The record gives it the alert "
            f"`lag >= {rate * LAG_BUDGET_S:g} for 60 s`. How many seconds after the consumer "
            "stops does it fire? (Nothing else is wrong: the backlog only grows while the "
            "consumer is away.)"
        ),
        expected=lambda: _fires_after(rate, downtime),
        solution=LAG_BUDGET_S + 60.0,
        rel_tol=0.05,
        explanation=(
            f"While the consumer is away the lag grows at the publish rate, so it reaches "
            f"{rate:g} x {LAG_BUDGET_S:g} events {LAG_BUDGET_S:g} s after the stop -- whatever "
            f"the rate: the threshold is {LAG_BUDGET_S:g} s of traffic. The rule then needs "
            "60 s above it: the alert fires 90 s after the stop, if the outage lasts that "
            "long. A shorter outage never fires it: a deploy does not page anyone."
        ),
        hint="The threshold is a number of seconds of traffic; the lag grows at the rate.",
    )

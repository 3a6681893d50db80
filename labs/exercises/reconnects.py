"""The exercise of lesson 14 (reconnects): how much of a gap the stream repairs.

The learner gets a publisher's rate, a subscriber's outage and the repair stream's
``MAXLEN`` (fixed per learner by :func:`~labs.exercises.core.for_learner`, never the
lesson's own example) and predicts, before any run, how many missed messages the gateway
gets back from the stream with ``XREAD``. The check runs the simulator's model of the
reconnect lab (:data:`labs.experiments.reconnect.RECONNECT`) with those numbers.
"""

from __future__ import annotations

from labs.exercises.core import Exercise, for_learner
from labs.experiments.reconnect import RECONNECT

__all__ = ["CHOICES", "repaired_after_gap"]

#: (publish rate msg/s, outage s, MAXLEN of the stream, 0 = untrimmed). The lesson's own
#: example (200/s, 0.5 s, untrimmed) is not among them.
CHOICES: dict[str, tuple[tuple[float, float, int], ...]] = {
    "14-repaired": (
        (300.0, 0.8, 0),
        (150.0, 1.2, 0),
        (400.0, 0.5, 120),
        (250.0, 1.0, 150),
        (500.0, 0.7, 0),
        (200.0, 1.5, 181),
    )
}
#: When the subscriber's connection closes (s), and the window after the outage (s).
DOWN_FROM_S, AFTER_S = 0.5, 0.5


def repaired_after_gap() -> Exercise:
    """Lesson 14: the missed messages the gateway reads back from the stream."""
    rate, down, maxlen = for_learner("14-repaired", CHOICES["14-repaired"])
    missed = rate * down
    solution = min(missed, maxlen - 1) if maxlen else missed
    cap = f"capped with `MAXLEN {maxlen}`" if maxlen else "not trimmed"
    values = dict(
        rate_per_s=rate,
        window_s=DOWN_FROM_S + down + AFTER_S,
        down_from_s=DOWN_FROM_S,
        down_for_s=down,
        stream_maxlen=maxlen,
    )

    def expected() -> float:
        import sim

        result = sim.run(RECONNECT.build_scenario(**values), seed=0)
        return result.metrics["repaired:subscriber:0"]

    return Exercise(
        key="14-repaired",
        question=(
            f"A publisher sends {rate:g} numbered messages a second, each also appended to a "
            f"stream {cap}. The subscriber is away for {down:g} s; the first message after "
            "its reconnect reveals the gap, and it reads what it missed with `XREAD` from its "
            "last-seen id. How many missed messages does it get back from the stream?"
        ),
        expected=expected,
        solution=solution,
        explanation=(
            f"It missed {rate:g}/s × {down:g} s = {missed:g} messages. "
            + (
                f"The stream keeps only its newest {maxlen} entries, and when the gap is seen "
                f"the newest is the message that revealed it: {maxlen - 1} of the missed are "
                f"still there; {missed - (maxlen - 1):g} are gone for good."
                if maxlen and maxlen - 1 < missed
                else "The stream still holds every one of them: all are repaired."
            )
        ),
        rel_tol=0.05,
        hint="First count what was published while it was away; then ask what MAXLEN kept.",
    )

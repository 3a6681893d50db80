"""The exercise of lesson 15 (parts 1-2, operating Streams), built from the real lab.

The learner predicts, from the parameters alone, what trimming does to the entries a dead
consumer held: the lab runs with this learner's parameters only when the answer is checked
or revealed (:class:`~labs.exercises.core.Exercise` computes the expected value lazily).
"""

from __future__ import annotations

from collections.abc import Callable

from labs.exercises.core import Exercise, for_learner
from sim.analysis.result import Result

__all__ = ["trimmed_pending"]

Lab = Callable[..., Result]

# (entries in the stream, entries s1 read and left pending, newest entries MINID keeps):
# answers 130..230, none a number the lesson prints; in some the dead consumer held more
# than trimming took, in others less.
_TRIM = ((480, 190, 260), (420, 260, 190), (450, 130, 200), (600, 170, 380), (520, 230, 310))


def trimmed_pending(run_lab: Lab) -> Exercise:
    """Lesson 15: pending ids left without data after ``XTRIM MINID``.

    ``run_lab(trim_messages=, slow_read=, maxlen=, minid_keep=)`` runs the streams-ops lab
    (the lesson passes :func:`labs.streams_ops.run_streams_ops`).
    """
    total, held, keep = for_learner("15-trimmed-pending", _TRIM)
    trimmed = total - keep
    answer = min(held, trimmed)
    return Exercise(
        key="15-trimmed-pending",
        question=(
            f"A stream holds {total} entries. Consumer `s1` of group `slow` reads the first "
            f"{held} of them and dies before acknowledging any. Then `XTRIM ... MINID` keeps "
            f"only the newest {keep}. How many of the ids `XPENDING` still lists for `s1` "
            "have no data left in the stream?"
        ),
        expected=lambda: int(
            run_lab(trim_messages=total, slow_read=held, maxlen=total, minid_keep=keep).metrics[
                "pending_trimmed"
            ]
        ),
        solution=answer,
        explanation=(
            f"MINID deletes the {trimmed} oldest entries (all but the newest {keep}), pending "
            f"or not: the PEL is not consulted. `s1` held the oldest {held}, so "
            f"min({held}, {trimmed}) = {answer} of its ids point at deleted entries: XPENDING "
            "still lists them, XRANGE finds nothing and XAUTOCLAIM returns them as deleted "
            f"(Redis 7.0). The other {trimmed - answer} deleted entries were never read by "
            "the group: lost without a trace in its PEL."
        ),
        hint="Trimming removes the oldest entries whatever the PEL says: which ones did s1 hold?",
    )

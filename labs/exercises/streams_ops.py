"""The exercise of lesson 15 (parts 1-2, operating Streams), built from the real lab.

The learner predicts, from the parameters alone, how many of the entries a dead consumer
held survive trimming: the lab runs with this learner's parameters only when the answer is checked
or revealed (:class:`~labs.exercises.core.Exercise` computes the expected value lazily).
"""

from __future__ import annotations

from collections.abc import Callable

from labs.exercises.core import Exercise, for_learner
from sim.analysis.result import Result

__all__ = ["claimable_after_trim"]

Lab = Callable[..., Result]

# (entries in the stream, entries s1 read and left pending, newest entries MINID keeps):
# answers 0 or 130..220, none a number the question or the lesson prints.
_TRIM = ((600, 350, 420), (520, 400, 310), (450, 330, 250), (500, 380, 340), (640, 410, 390),
         (480, 150, 200))  # fmt: skip


def claimable_after_trim(run_lab: Lab) -> Exercise:
    """Lesson 15: entries of a dead consumer still there to claim after ``XTRIM MINID``.

    ``run_lab(trim_messages=, slow_read=, maxlen=, minid_keep=)`` runs the streams-ops lab
    (the lesson passes :func:`labs.streams_ops.run_streams_ops`).
    """
    total, held, keep = for_learner("15-claimable-after-trim", _TRIM)
    trimmed = total - keep
    lost = min(held, trimmed)
    answer = held - lost
    return Exercise(
        key="15-claimable-after-trim",
        question=(
            f"A stream holds {total} entries. Consumer `s1` of group `slow` reads the first "
            f"{held} of them and dies before acknowledging any. Then `XTRIM ... MINID` keeps "
            f"only the newest {keep}. A new consumer `s2` runs `XAUTOCLAIM` over `s1`'s "
            "pending entries: how many entries does it get (with their data) to process?"
        ),
        expected=lambda: int(
            run_lab(trim_messages=total, slow_read=held, maxlen=total, minid_keep=keep).metrics[
                "claimed_after_trim"
            ]
        ),
        solution=answer,
        explanation=(
            f"MINID deletes the {trimmed} oldest entries (all but the newest {keep}), pending "
            f"or not: trimming does not consult the PEL. `s1` held the oldest {held}, so "
            f"min({held}, {trimmed}) = {lost} of its ids point at deleted entries: XPENDING "
            "still lists them, XRANGE finds nothing, and XAUTOCLAIM returns them as deleted "
            f"(Redis 7.0) and drops them from the PEL. {held} - {lost} = {answer} are left to "
            "claim."
        ),
        hint="Trimming removes the oldest entries whatever the PEL says: which ones did s1 hold?",
    )

"""The course's exercises: predict first, then check against a hidden run (see :mod:`.core`).

The API is in :mod:`.core`; each lesson's exercises are built by a function of a lessons
module imported here, so a lesson needs one import: ``from labs.exercises import early``.
"""

from labs.exercises import (
    capstone,
    early,
    kafka_depth,
    late,
    performance,
    rebalancing,
    reconnects,
    redis_durability,
    streams_ops,
)
from labs.exercises.core import Exercise, Reveal, Verdict, created, for_learner, shown

__all__ = [
    "Exercise",
    "Reveal",
    "Verdict",
    "capstone",
    "created",
    "early",
    "kafka_depth",
    "for_learner",
    "late",
    "performance",
    "rebalancing",
    "redis_durability",
    "reconnects",
    "shown",
    "streams_ops",
]

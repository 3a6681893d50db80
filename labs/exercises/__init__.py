"""The course's exercises: predict first, then check against a hidden run (see :mod:`.core`).

The API is in :mod:`.core`; each lesson's exercises are built by a function of a lessons
module, imported below, so a lesson needs one import: ``from labs.exercises import early``.
"""

from labs.exercises.core import Exercise, Reveal, Verdict, created, for_learner, shown

__all__ = ["Exercise", "Reveal", "Verdict", "created", "for_learner", "shown"]

# Lesson builders. Lessons 00-06 (ex1): `early`, imported on the next line once it exists.
# Lessons 07-13 (ex2): add `from labs.exercises import late  # noqa: E402` after this line.
from labs.exercises import late  # noqa: E402, F401

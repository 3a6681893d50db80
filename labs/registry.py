"""The labs by name, derived from the experiment declarations (:mod:`labs.experiments`).

``LABS`` maps a lab's name to its :class:`~labs.experiments.Experiment`: ``.run`` is the lab
function, ``.params`` its declared parameters (ranges, defaults, meaning), ``.defaults()``
their defaults and ``.summary`` one line about it. Nothing here is declared twice: add or
change a parameter in ``labs/experiments/<name>.py``.
"""

from __future__ import annotations

from typing import Any

from labs.experiments import EXPERIMENTS, Experiment, get
from labs.params import SEED
from sim.analysis.result import Result

LABS: dict[str, Experiment] = dict(EXPERIMENTS)


def run(name: str, *, seed: int = 0, **params: Any) -> Result:
    """Run lab ``name`` with ``params`` over its defaults (an unknown name, or a value out
    of its range, is a ``ValueError`` before any broker is touched)."""
    lab = get(name)
    values = lab.resolve(**params)
    return lab.run(seed=SEED.check(seed), **values)


__all__ = ["LABS", "SEED", "get", "run"]

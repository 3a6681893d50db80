"""The throughput twin's two halves as records: the real sweeps -- and which of them count
(a point delivered its rate; a sweep the host stole CPU time from is swept again and the
quietest are kept) -- and the simulated curves. :mod:`labs.twins.throughput` makes and
compares them.

>>> quietest([0.11, 0.18, 0.01, 0.0, 0.004], 3)
[2, 3, 4]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from labs.steal import stolen
from labs.throughput_result import json_ready
from sim.models.throughput import SimPoint

#: Sweeps of each configuration (interleaved); the compared figures are their medians. Five,
#: not three: a p99 of a 2 s point is the stalls it caught, and the median of three still
#: moved by a quarter between runs. Three runs with five sweeps each, re-simulated offline
#: with today's model: all five agreed on every row in two (18 of 18, 24 of 24), and no set
#: of three of their sweeps did in any (0 of 30 sets: 15-23 of 18-24 rows).
REPEATS = 5
#: Sweeps of a configuration measured again at most, when the host stole from some.
EXTRA_SWEEPS = 3
#: A point delivered its rate when it achieved this share of it.
DELIVERED_SHARE = 0.95


def needs_another(steal: Sequence[float]) -> bool:
    """Whether a configuration with sweeps of these steal shares is swept again: fewer than
    :data:`REPEATS` quiet ones (:func:`labs.steal.stolen`), and fewer than
    ``REPEATS + EXTRA_SWEEPS`` in all.

    >>> quiet = [0.0] * REPEATS
    >>> needs_another(quiet[1:]), needs_another([0.12, *quiet[1:]]), needs_another(quiet)
    (True, True, False)
    >>> needs_another([0.2] * (REPEATS + EXTRA_SWEEPS))
    False
    """
    quiet = sum(not stolen(x) for x in steal)
    return quiet < REPEATS and len(steal) < REPEATS + EXTRA_SWEEPS


def quietest(steal: Sequence[float], n: int) -> list[int]:
    """The indices of the ``n`` sweeps the host stole least from, in the order swept (an
    unknown share counts as none).

    >>> quietest([0.11, 0.18, 0.01, 0.0, 0.004], 3)
    [2, 3, 4]
    >>> quietest([float("nan"), 0.2, 0.01], 2)
    [0, 2]
    """
    known = [0.0 if math.isnan(x) else x for x in steal]
    return sorted(sorted(range(len(known)), key=lambda i: (known[i], i))[:n])


def each_against_the_others(values: Sequence[float]) -> list[tuple[float, float]]:
    """Each repeat's value with the median of the other repeats' (leave one out): one more
    real sweep, taken as the prediction of the ones measured.

    >>> each_against_the_others([1.0, 2.0, 4.0])
    [(1.0, 3.0), (2.0, 2.5), (4.0, 1.5)]
    """
    return [
        (v, float(np.median([w for k, w in enumerate(values) if k != j])))
        for j, v in enumerate(values)
    ]


#: Resamples of the sweeps behind :func:`exact_model_agreement`.
RESAMPLES = 2000


def exact_model_agreement(
    columns: Sequence[np.ndarray], tolerance: float, *, seed: int, resamples: int = RESAMPLES
) -> float:
    """How often a model exactly right -- one that predicts every row's true value -- would
    agree on every latency row, given the real sweeps' own scatter (a bootstrap).
    ``columns[c]`` is configuration ``c``'s figures, one line per sweep and one column per
    row. A resample draws as many sweeps with replacement (whole sweeps, so that a sweep's
    rows move together; each configuration's sweeps on their own, as they were measured)
    and takes each row's median; it agrees when every row's median is within ``tolerance``
    of the row's median over all the sweeps -- the truth, as far as the resampling knows
    it. A bootstrap of five sweeps cannot see beyond their five values: an estimate.

    >>> same = [np.ones((5, 3))]
    >>> exact_model_agreement(same, 0.25, seed=0)
    1.0
    >>> apart = [np.outer(3.0 ** np.arange(5), np.ones(3))]  # each sweep 3x the one before
    >>> 0.2 < exact_model_agreement(apart, 0.25, seed=0) < 0.5
    True
    """
    rng = np.random.default_rng(seed)
    agree = np.ones(resamples, bool)
    for figures in columns:
        x = np.asarray(figures, float)
        if x.size == 0:
            continue
        truth = np.median(x, axis=0)
        picks = rng.integers(0, x.shape[0], size=(resamples, x.shape[0]))
        medians = np.median(x[picks], axis=1)  # resamples x rows
        agree &= np.all(np.abs(medians - truth) <= tolerance * np.abs(truth), axis=1)
    return float(agree.mean())


def delivered(p: Any) -> bool:
    """The point got its offered rate through (whatever its latency)."""
    return p.achieved_rate_per_s >= DELIVERED_SHARE * p.target_rate_per_s


@dataclass(frozen=True)
class Sweep:
    """One configuration's real points: ``points[r]`` is repeat ``r``'s sweep (lowest rate
    first, ending at the first point not delivered) and ``bursts[r]`` its burst."""

    label: str
    points: tuple[tuple[Any, ...], ...]
    bursts: tuple[Any, ...]
    #: Repeat ``r``'s warm burst (every message due, :data:`WARM_BATCH` a wake-up).
    warm: tuple[Any, ...] = ()
    #: The host's steal share during repeat ``r``'s sweep (:mod:`labs.steal`; NaN: unknown).
    steal: tuple[float, ...] = ()
    #: The steal shares of the sweeps left out for quieter ones (:func:`quietest`).
    dropped_steal: tuple[float, ...] = ()

    def at(self, rate: float) -> list[Any]:
        return [p for sweep in self.points for p in sweep if p.target_rate_per_s == rate]

    def values(self, rate: float, field_name: str) -> list[float]:
        """Every repeat's figure at ``rate`` (in the order swept; none: NaN)."""
        return np.array([getattr(p, field_name) for p in self.at(rate)], float).tolist()

    def median(self, rate: float, field_name: str) -> float:
        vals = np.array(self.values(rate, field_name))
        vals = vals[~np.isnan(vals)]
        return float(np.median(vals)) if vals.size else float("nan")

    def delivered_rates(self, series: Sequence[float]) -> list[float]:
        """Rates every repeat reached and most repeats delivered."""
        out = []
        for rate in series:
            pts = self.at(rate)
            if len(pts) == len(self.points) and sum(map(delivered, pts)) * 2 > len(pts):
                out.append(rate)
        return out

    def saturation_rate(self) -> float:
        """Median over repeats of the achieved rate at the first point not delivered (NaN
        when a repeat delivered every rate it tried)."""
        got = []
        for sweep in self.points:
            first = next((p for p in sweep if not delivered(p)), None)
            got.append(float("nan") if first is None else first.achieved_rate_per_s)
        return float(np.median(got))

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "points": [[dataclasses.asdict(p) for p in s] for s in self.points],
            "bursts": [dataclasses.asdict(b) for b in self.bursts],
            "warm": [dataclasses.asdict(b) for b in self.warm],
            "steal": list(self.steal),
            "dropped_steal": list(self.dropped_steal),
        }


@dataclass(frozen=True)
class RealSweeps:
    """The real half: every configuration's sweeps."""

    sweeps: Mapping[str, Sweep]
    rates_per_s: tuple[float, ...]
    point_s: float
    #: The machine's 1-minute load average when the sweeps started and ended.
    load_average: tuple[float, float] = (float("nan"), float("nan"))
    #: The share of CPU time the host took from this machine during the sweeps (steal).
    steal_share: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        return json_ready(
            {
                "rates_per_s": list(self.rates_per_s),
                "point_s": self.point_s,
                "load_average": list(self.load_average),
                "steal_share": self.steal_share,
                "sweeps": {k: s.to_dict() for k, s in self.sweeps.items()},
            }
        )


@dataclass(frozen=True)
class SimCurves:
    """The simulator half: per configuration, a point per rate and the saturation rate."""

    points: Mapping[str, tuple[SimPoint, ...]]
    saturation_rate_per_s: Mapping[str, float]

    def point(self, label: str, rate: float) -> SimPoint:
        return next(p for p in self.points[label] if p.target_rate_per_s == rate)

    def to_dict(self) -> dict[str, Any]:
        return json_ready(
            {
                "points": {k: [dataclasses.asdict(p) for p in v] for k, v in self.points.items()},
                "saturation_rate_per_s": dict(self.saturation_rate_per_s),
            }
        )

"""Service-time distributions that carry their theory.

A :class:`Service` describes how long one consumer or subscriber takes to process one
message: ``constant``, ``exponential`` (the M in M/M/1), ``lognormal`` or ``uniform``, given
by its mean in milliseconds and, where it has one, its coefficient of variation ``cv``.
As in Ciw, a distribution knows its own ``mean`` and ``variance`` (in seconds), so tests
can compare a simulation with queueing theory. Sampling is vectorised: one call draws the
service times of a whole message stream from a caller-owned ``numpy`` generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.core.validation import check_choice, check_number

KINDS = ("constant", "exponential", "lognormal", "uniform")


@dataclass(frozen=True)
class Service:
    """Processing time per message: ``kind`` with mean ``mean_ms`` (and ``cv`` where used).

    >>> Service("exponential", mean_ms=2.0).mean
    0.002
    """

    kind: str = "constant"
    mean_ms: float = 1.0
    cv: float = 0.5

    def __post_init__(self) -> None:
        check_choice(self, "kind", KINDS)
        check_number(self, "mean_ms", 0.0, 3_600_000.0)
        check_number(self, "cv", 0.0, 10.0)
        if self.kind == "uniform" and self.cv > 1 / math.sqrt(3):
            raise ValueError(
                f'"cv" must be in [0, {1 / math.sqrt(3):.4f}] for a uniform service, got {self.cv}.'
            )

    @property
    def mean(self) -> float:
        """Mean service time in seconds."""
        return self.mean_ms / 1000.0

    @property
    def variance(self) -> float:
        """Variance of the service time in seconds squared."""
        if self.kind == "constant":
            return 0.0
        if self.kind == "exponential":
            return self.mean**2
        return (self.cv * self.mean) ** 2

    @property
    def rate(self) -> float:
        """Service rate mu in messages per second (``inf`` for zero service time)."""
        return math.inf if self.mean == 0 else 1.0 / self.mean

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` service times in seconds (read-only: one value for all is a zero-stride
        view, no per-message array)."""
        m = self.mean
        if self.kind == "constant" or m == 0:
            return np.broadcast_to(np.float64(m), n)
        if self.kind == "exponential":
            return rng.exponential(m, n)
        if self.kind == "lognormal":
            if self.cv == 0:
                return np.broadcast_to(np.float64(m), n)
            sigma2 = math.log1p(self.cv**2)
            return rng.lognormal(math.log(m) - sigma2 / 2, math.sqrt(sigma2), n)
        half = math.sqrt(3) * self.cv * m
        return rng.uniform(m - half, m + half, n)

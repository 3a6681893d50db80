"""A single FIFO server, computed for a whole stream of messages at once.

A consumer that handles one message at a time is a FIFO server: message ``i`` arrives at
``a[i]``, starts when both it and the server are ready, and departs ``s[i]`` later --
Lindley's recursion ``d[i] = max(a[i], d[i-1]) + s[i]``. With ``S = cumsum(s)`` it unrolls
to ``d[i] = S[i] + max(free, max_{j<=i}(a[j] - S[j-1]))``, a cumulative maximum that numpy
computes for a million messages in milliseconds. :func:`departures_reference` is the
plain loop, kept for tests that pin the fast path to it.
"""

from __future__ import annotations

import numpy as np


def departures(a: np.ndarray, s: np.ndarray, free: float = -np.inf) -> np.ndarray:
    """Departure times of a FIFO server for arrivals ``a`` (non-decreasing) and service
    times ``s``, the server being busy until ``free``."""
    if a.size == 0:
        return np.zeros(0)
    S = np.cumsum(s)
    lead = S - s  # S[i-1], exact zero at i = 0 (then, in place, what follows from it)
    np.subtract(a, lead, out=lead)
    np.maximum.accumulate(lead, out=lead)
    if free > -np.inf:
        np.maximum(lead, free, out=lead)
    S += lead
    return S


def starts(a: np.ndarray, d: np.ndarray, free: float = -np.inf) -> np.ndarray:
    """Start times ``max(a[i], d[i-1])`` for the departures ``d`` of :func:`departures`
    (exact, unlike ``d - s`` which carries the rounding of the cumulative sums)."""
    if a.size == 0:
        return np.zeros(0)
    prev = np.empty_like(d)
    prev[0] = free
    prev[1:] = d[:-1]
    return np.maximum(a, prev)


def departures_reference(a, s, free: float = -np.inf) -> np.ndarray:
    """The same as :func:`departures`, one message at a time."""
    out = np.empty(len(a))
    d = free
    for i, (ai, si) in enumerate(zip(a, s, strict=True)):
        d = max(ai, d) + si
        out[i] = d
    return out

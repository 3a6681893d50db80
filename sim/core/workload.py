"""Workloads: the messages a run publishes, generated as arrays in one go.

A workload turns a :class:`~sim.core.scenario.Workload` and independent random streams into
:class:`Messages`: publish times (constant, Poisson or bursty arrivals), integer keys
(uniform, Zipf(s), a single hot key, or null), sizes in bytes and a poison mark. Every
property has its own random stream, so changing the key distribution does not move the
arrival times of the same seed. Nothing here is per message in Python: a million
messages are a handful of numpy calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.core.scenario import Workload


@dataclass(frozen=True)
class Messages:
    """The sends of a run: ``publish_time`` (s, non-decreasing), ``keys`` (-1 = null),
    ``size`` (bytes) and ``poison`` (processing always fails)."""

    publish_time: np.ndarray
    keys: np.ndarray
    size: np.ndarray
    poison: np.ndarray

    def __len__(self) -> int:
        return int(self.publish_time.size)

    @property
    def window_s(self) -> float:
        """End of the publish window: the last publish time (0 when nothing is sent)."""
        return float(self.publish_time[-1]) if self.publish_time.size else 0.0


def check_messages(messages: Messages) -> Messages:
    """``messages`` as given to ``sim.run(..., messages=...)``, checked: four 1-D arrays of one
    length, publish times finite, non-negative and non-decreasing, keys >= -1, sizes >= 0."""
    if not isinstance(messages, Messages):
        raise ValueError(
            f'"messages" must be a sim.core.workload.Messages, got {type(messages)!r}.'
        )
    t = np.asarray(messages.publish_time, float)
    arrays = {
        "keys": np.asarray(messages.keys),
        "size": np.asarray(messages.size),
        "poison": np.asarray(messages.poison),
    }
    if t.ndim != 1:
        raise ValueError('"messages.publish_time" must be a 1-D array.')
    for field_name, a in arrays.items():
        if a.shape != t.shape:
            raise ValueError(
                f'"messages.{field_name}" must have one entry per publish time ({t.size}), '
                f"got shape {a.shape}."
            )
    if t.size and (not np.all(np.isfinite(t)) or t[0] < 0 or np.any(np.diff(t) < 0)):
        raise ValueError('"messages.publish_time" must be finite, >= 0 and non-decreasing.')
    if arrays["keys"].size and arrays["keys"].min() < -1:
        raise ValueError('"messages.keys" must be >= -1 (-1 is a null key).')
    if arrays["size"].size and arrays["size"].min() < 0:
        raise ValueError('"messages.size" must be >= 0 bytes.')
    return Messages(
        publish_time=t,
        keys=arrays["keys"].astype(np.int64, copy=False),
        size=arrays["size"].astype(np.int64, copy=False),
        poison=arrays["poison"].astype(bool, copy=False),
    )


def generate(workload: Workload, seeds: list[np.random.SeedSequence]) -> Messages:
    """Messages for ``workload`` from four independent streams (arrivals, keys, sizes,
    poison)."""
    rng_t, rng_k, rng_s, rng_p = (np.random.default_rng(s) for s in seeds[:4])
    t = arrival_times(workload, rng_t)
    n = t.size
    return Messages(
        publish_time=t,
        keys=draw_keys(workload, rng_k, n),
        size=draw_sizes(workload, rng_s, n),
        poison=rng_p.random(n) < workload.poison_fraction
        if workload.poison_fraction > 0
        else np.zeros(n, bool),
    )


def arrival_times(w: Workload, rng: np.random.Generator) -> np.ndarray:
    """Publish times in seconds, non-decreasing, starting near 0."""
    if w.arrivals == "constant":
        n = w.messages if w.messages is not None else int(math.floor(w.duration_s * w.rate_per_s))
        return np.arange(n, dtype=float) / w.rate_per_s
    if w.messages is not None:
        u = np.cumsum(rng.exponential(1.0, w.messages))
    else:
        if w.arrivals == "poisson":
            total = w.rate_per_s * w.duration_s
        else:
            total = float(_intensity(w, np.array([w.duration_s]))[0])
        u = _unit_poisson_until(rng, total)
    if w.arrivals == "poisson":
        return u / w.rate_per_s
    return _invert_intensity(w, u)


def _unit_poisson_until(rng: np.random.Generator, total: float) -> np.ndarray:
    """Points of a unit-rate Poisson process on [0, total]."""
    chunk = int(total + 6 * math.sqrt(total) + 16)
    parts, last = [], 0.0
    while True:
        c = last + np.cumsum(rng.exponential(1.0, chunk))
        parts.append(c)
        last = float(c[-1])
        if last > total:
            break
    u = np.concatenate(parts)
    return u[: np.searchsorted(u, total, side="right")]


def _intensity(w: Workload, t: np.ndarray) -> np.ndarray:
    """Cumulative intensity Lambda(t) of the bursty process (bursts open each period)."""
    period, on = w.burst_every_s, w.burst_length_s
    per = w.burst_rate_per_s * on + w.rate_per_s * (period - on)
    k, r = np.divmod(t, period)
    inside = np.minimum(r, on) * w.burst_rate_per_s + np.maximum(r - on, 0) * w.rate_per_s
    return k * per + inside


def _invert_intensity(w: Workload, u: np.ndarray) -> np.ndarray:
    period, on = w.burst_every_s, w.burst_length_s
    burst = w.burst_rate_per_s * on
    per = burst + w.rate_per_s * (period - on)
    k, r = np.divmod(u, per)
    within = np.where(r < burst, r / w.burst_rate_per_s, on + (r - burst) / w.rate_per_s)
    return k * period + within


def zipf_weights(keys: int, s: float) -> np.ndarray:
    """P(key k) for a bounded Zipf(s) over ``keys`` keys (key 0 is the hottest)."""
    w = np.arange(1, keys + 1, dtype=float) ** -s
    return w / w.sum()


def draw_keys(w: Workload, rng: np.random.Generator, n: int) -> np.ndarray:
    if w.key_distribution == "none":
        return np.full(n, -1, np.int64)
    if w.key_distribution == "uniform":
        return rng.integers(0, w.keys, n, dtype=np.int64)
    if w.key_distribution == "zipf":
        cdf = np.cumsum(zipf_weights(w.keys, w.zipf_s))
        cdf[-1] = 1.0
        return np.searchsorted(cdf, rng.random(n), side="right").astype(np.int64)
    hot = rng.random(n) < w.hot_key_fraction
    return np.where(hot, 0, rng.integers(0, w.keys, n, dtype=np.int64))


def draw_sizes(w: Workload, rng: np.random.Generator, n: int) -> np.ndarray:
    if w.size_cv == 0:  # one size for all: a read-only view, no per-message array
        return np.broadcast_to(np.int64(w.size_bytes), n)
    sigma2 = math.log1p(w.size_cv**2)
    s = rng.lognormal(math.log(w.size_bytes) - sigma2 / 2, math.sqrt(sigma2), n)
    return np.maximum(np.rint(s), 1).astype(np.int64)

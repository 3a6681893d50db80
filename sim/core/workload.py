"""Workloads: the messages a run publishes, generated as arrays in one go.

A :class:`Workload` (what producers send, as settings) and independent random streams give
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

from sim.core.validation import check_choice, check_number

#: Upper bound on the number of messages one run may generate.
MAX_MESSAGES = 50_000_000

ARRIVALS = ("constant", "poisson", "bursty")
KEY_DISTRIBUTIONS = ("uniform", "zipf", "hot", "none")


@dataclass(frozen=True)
class Workload:
    """What producers send.

    ``arrivals``: ``constant`` (every 1/rate s), ``poisson`` (rate ``rate_per_s``) or
    ``bursty`` (Poisson at ``rate_per_s``, but at ``burst_rate_per_s`` during the first
    ``burst_length_s`` of every ``burst_every_s``). The run publishes for ``duration_s``
    seconds, or exactly ``messages`` messages when that is set. Keys are integers
    ``0..keys-1``: ``uniform``, ``zipf`` (P(rank r) ~ r^-zipf_s, key 0 hottest), ``hot``
    (a share ``hot_key_fraction`` on key 0, the rest uniform) or ``none`` (null keys).
    Sizes have mean ``size_bytes`` (lognormal with ``size_cv`` when > 0). A share
    ``poison_fraction`` of messages is marked poison: processing them always fails.
    """

    rate_per_s: float = 1000.0
    duration_s: float = 60.0
    messages: int | None = None
    arrivals: str = "poisson"
    burst_rate_per_s: float = 10_000.0
    burst_every_s: float = 10.0
    burst_length_s: float = 1.0
    keys: int = 1000
    key_distribution: str = "uniform"
    zipf_s: float = 1.1
    hot_key_fraction: float = 0.9
    size_bytes: int = 1024
    size_cv: float = 0.0
    poison_fraction: float = 0.0

    def __post_init__(self) -> None:
        check_number(self, "rate_per_s", 0.0, 1e8, lo_open=True)
        check_number(self, "duration_s", 0.0, 1e8, lo_open=True)
        check_number(self, "messages", 1, MAX_MESSAGES, integer=True, optional=True)
        check_choice(self, "arrivals", ARRIVALS)
        check_number(self, "burst_rate_per_s", 0.0, 1e8, lo_open=True)
        check_number(self, "burst_every_s", 0.0, 1e8, lo_open=True)
        check_number(self, "burst_length_s", 0.0, self.burst_every_s)
        check_number(self, "keys", 1, 100_000_000, integer=True)
        check_choice(self, "key_distribution", KEY_DISTRIBUTIONS)
        check_number(self, "zipf_s", 0.0, 20.0)
        check_number(self, "hot_key_fraction", 0.0, 1.0)
        check_number(self, "size_bytes", 1, 100_000_000, integer=True)
        check_number(self, "size_cv", 0.0, 10.0)
        check_number(self, "poison_fraction", 0.0, 1.0)
        if self.messages is None and self.expected_messages > MAX_MESSAGES:
            raise ValueError(
                f'Workload "rate_per_s" x "duration_s" must give at most {MAX_MESSAGES} '
                f"messages, got about {self.expected_messages:.3g}."
            )

    @property
    def mean_rate_per_s(self) -> float:
        """Long-run mean arrival rate (lambda), bursts included."""
        if self.arrivals != "bursty":
            return self.rate_per_s
        on = self.burst_length_s / self.burst_every_s
        return on * self.burst_rate_per_s + (1 - on) * self.rate_per_s

    @property
    def expected_messages(self) -> float:
        if self.messages is not None:
            return float(self.messages)
        return self.mean_rate_per_s * self.duration_s


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
        return inverse_cdf(cdf, rng.random(n))
    hot = rng.random(n) < w.hot_key_fraction
    return np.where(hot, 0, rng.integers(0, w.keys, n, dtype=np.int64))


def inverse_cdf(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``searchsorted(cdf, u, side="right")`` for ``u`` in [0, 1), as int64. With far
    fewer points than draws, through a guide table: ``[0, 1)`` is cut into ``2**b`` equal
    buckets; the answer for a ``u`` lies between the points up to its bucket's start and
    those before its end -- one value for most buckets, a few points to compare for the
    others."""
    if 64 * cdf.size > u.size:
        return np.searchsorted(cdf, u, side="right").astype(np.int64, copy=False)
    size = 1 << min(max((4 * cdf.size).bit_length(), 10), 20)
    edges = np.arange(size + 1) / size  # exact: the size is a power of two
    lo = np.searchsorted(cdf, edges[:-1], side="right")  # points <= the bucket's start
    width = np.searchsorted(cdf, edges[1:], side="left") - lo  # points inside the bucket
    j = (u * size).astype(np.intp)  # the bucket: an exact product, truncated
    out = lo[j]
    inside = np.flatnonzero(width[j])
    if inside.size:
        ui, base = u[inside], out[inside]
        if int(width.max()) <= 16:
            wi, last, found = width[j[inside]], cdf.size - 1, np.zeros(inside.size, np.int64)
            for k in range(int(width.max())):  # count the bucket's points <= u
                found += (k < wi) & (cdf[np.minimum(base + k, last)] <= ui)
            out[inside] = base + found
        else:
            out[inside] = np.searchsorted(cdf, ui, side="right")
    return out.astype(np.int64, copy=False)


def draw_sizes(w: Workload, rng: np.random.Generator, n: int) -> np.ndarray:
    if w.size_cv == 0:  # one size for all: a read-only view, no per-message array
        return np.broadcast_to(np.int64(w.size_bytes), n)
    sigma2 = math.log1p(w.size_cv**2)
    s = rng.lognormal(math.log(w.size_bytes) - sigma2 / 2, math.sqrt(sigma2), n)
    return np.maximum(np.rint(s), 1).astype(np.int64)

"""What a lab sends: arrival times, keys and payloads, all from one seed.

The same parameters the simulator takes -- a rate, a window, a key distribution -- give the
same sequence here: constant or Poisson arrivals, uniform or Zipf keys over ``num_keys``
integer keys (sent as :func:`sim.partitioner.key_bytes`), and payloads that carry the
message id so every consumer can say exactly which message it processed.

Random choices use independent streams spawned from the run's seed
(``numpy.random.SeedSequence(seed).spawn``), so changing one parameter never reshuffles
another part of the workload.
"""

from __future__ import annotations

import numpy as np

ARRIVALS = ("constant", "poisson")
KEY_DISTRIBUTIONS = ("uniform", "zipf")


def rngs(seed: int, n: int) -> list[np.random.Generator]:
    """``n`` independent generators from ``seed``."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def arrival_times(
    rate_per_s: float, window_s: float, *, arrivals: str = "constant", rng=None
) -> np.ndarray:
    """Send offsets in seconds from the start of the window, ``[0, window_s)``."""
    if arrivals == "constant":
        return np.arange(int(round(rate_per_s * window_s))) / rate_per_s
    if arrivals == "poisson":
        rng = rng or np.random.default_rng(0)
        n = rng.poisson(rate_per_s * window_s)
        return np.sort(rng.uniform(0.0, window_s, n))
    raise ValueError(f'"arrivals" must be one of {ARRIVALS}, got {arrivals!r}.')


def zipf_probabilities(num_keys: int, s: float) -> np.ndarray:
    """P(key = k) proportional to 1 / (k + 1) ** s over ``num_keys`` keys."""
    weights = 1.0 / np.arange(1, num_keys + 1) ** s
    return weights / weights.sum()


def keys(
    n: int, num_keys: int, *, distribution: str = "uniform", zipf_s: float = 1.2, rng=None
) -> np.ndarray:
    """``n`` integer keys in ``0 .. num_keys - 1`` (key 0 is the hottest under Zipf)."""
    rng = rng or np.random.default_rng(0)
    if distribution == "uniform":
        return rng.integers(0, num_keys, n)
    if distribution == "zipf":
        return rng.choice(num_keys, size=n, p=zipf_probabilities(num_keys, zipf_s))
    raise ValueError(
        f'"key_distribution" must be one of {KEY_DISTRIBUTIONS}, got {distribution!r}.'
    )


def payload(msg_id: int, size_bytes: int = 0, key: int | None = None) -> bytes:
    """The message body: its id (and key, if given), padded to ``size_bytes`` if larger."""
    body = str(int(msg_id)).encode("ascii")
    if key is not None:
        body += b" " + str(int(key)).encode("ascii")
    if size_bytes > len(body):
        body += b" " * (size_bytes - len(body))
    return body


def message_id(body: bytes) -> int:
    """The id a :func:`payload` carries."""
    return int(bytes(body).split(b" ", 1)[0])


def message_key(body: bytes) -> int:
    """The key a :func:`payload` carries (``-1`` if none)."""
    parts = bytes(body).split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1] else -1

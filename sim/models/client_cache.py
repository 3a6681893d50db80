"""Client-side caching after a reconnect: stale reads when the local cache is not flushed.

A client keeps a local copy of the keys it read and asks Redis to tell it when one changes
(``CLIENT TRACKING on``; https://redis.io/docs/latest/develop/reference/client-side-caching/
and https://redis.io/docs/latest/commands/client-tracking/). In the **default** mode Redis
remembers, per connection, the keys that connection read and sends one invalidation the
first time such a key is modified, then forgets it until it is read again. In **BCAST**
mode it sends an invalidation for every change of a key under the client's prefixes,
read or not. While the connection is down the invalidations have nowhere to go: they are
lost. In the default mode the new connection tracks nothing yet, so a cache that
survives the reconnect is never told about *any* change to the keys it kept -- neither
those made during the outage nor later ones -- until it reads them from the server
again; in BCAST mode the next change of a key is announced, so a kept entry is stale only
until then. Redis's advice is to flush the local cache when the connection is lost.

The model (standalone, like :mod:`sim.models.throughput`: not a broker model of
``sim.run``): ``keys`` keys, all cached at time 0 when the connection drops; another
client updates a uniformly chosen key at Poisson rate ``updates_per_s`` from 0 to the end;
the connection is back at ``down_s``; from then on for ``read_for_s`` the client reads a
uniformly chosen key at Poisson rate ``reads_per_s``. A read is *stale* when the client
answers from its cache with a value the server no longer has. :func:`replay` plays a
sequence of operations (the lab plays the same one, :func:`draw_ops`) through the
tracking rules above; timing matters only through the order of the operations.

Theory (:func:`expected_stale_reads`), per-key update rate ``lam = updates_per_s / keys``,
``d = down_s``, ``w = read_for_s``, ``r = reads_per_s``. Default mode, no flush: every
read hits the cache and is stale iff its key changed since 0, probability
``1 - exp(-lam t)`` at time ``t``, so

    E[stale] = r * (w - (exp(-lam d) - exp(-lam (d + w))) / lam)

BCAST, no flush: stale iff the key changed during the outage and not since the reconnect,
``(1 - exp(-lam d)) exp(-lam (t - d))``, so ``E[stale] = r (1 - exp(-lam d)) (1 - exp(-lam
w)) / lam``. With the flush every first read goes to the server and later changes are
invalidated, so none is stale (the invalidation racing a read, under a millisecond, aside).

>>> c = CacheScenario(keys=100, updates_per_s=50, down_s=1, reads_per_s=100, read_for_s=2)
>>> round(expected_stale_reads(c), 1)
123.3
>>> round(expected_stale_reads(CacheScenario(tracking="bcast")), 1)  # the same, BCAST
49.7
>>> counts = replay(draw_ops(c, seed=0), flush=True)
>>> counts.stale_reads
0
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.core.validation import check_number

UPDATE, RECONNECT, READ = 0, 1, 2
#: ``CLIENT TRACKING`` modes the model knows.
TRACKING = ("default", "bcast")


#: The reconnect lab's name of each :class:`CacheScenario` field.
LAB_NAMES = {
    "cache_keys": "keys",
    "updates_per_s": "updates_per_s",
    "cache_down_s": "down_s",
    "reads_per_s": "reads_per_s",
    "read_for_s": "read_for_s",
    "tracking": "tracking",
}


@dataclass(frozen=True)
class CacheScenario:
    """Key space, update and read rates, the outage (s), how long reads go on after it and
    the tracking mode (``"default"`` or ``"bcast"``)."""

    keys: int = 100
    updates_per_s: float = 50.0
    down_s: float = 1.0
    reads_per_s: float = 100.0
    read_for_s: float = 2.0
    tracking: str = "default"

    def __post_init__(self) -> None:
        if self.tracking not in TRACKING:
            raise ValueError(f'"tracking" must be one of {TRACKING}, got {self.tracking!r}.')
        check_number(self, "keys", 1, 100_000, integer=True)
        check_number(self, "updates_per_s", 0.0, 10_000.0)
        check_number(self, "down_s", 0.0, 3600.0)
        check_number(self, "reads_per_s", 0.0, 10_000.0)
        check_number(self, "read_for_s", 0.0, 3600.0)

    @classmethod
    def from_lab(cls, **values) -> CacheScenario:
        """From the reconnect lab's parameter names (:data:`LAB_NAMES`; other names are
        ignored, missing fields keep their defaults)."""
        return cls(**{field: values[name] for name, field in LAB_NAMES.items() if name in values})

    @property
    def end_s(self) -> float:
        return self.down_s + self.read_for_s


@dataclass(frozen=True)
class Ops:
    """A time-ordered sequence of operations: ``kind`` (UPDATE, RECONNECT, READ), ``key``
    (-1 for the reconnect) and ``t`` (seconds since the connection dropped)."""

    kind: np.ndarray
    key: np.ndarray
    t: np.ndarray

    def __len__(self) -> int:
        return int(self.kind.size)


@dataclass(frozen=True)
class CacheCounts:
    """What one client saw: reads, those served from its cache, the stale ones, the
    invalidations it received after the reconnect, keys changed while it was away."""

    reads: int
    cache_hits: int
    stale_reads: int
    invalidations_after_reconnect: int
    keys_updated_while_down: int
    #: When each stale read happened (s since the connection dropped).
    stale_at: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _poisson_times(rng: np.random.Generator, rate: float, start: float, end: float):
    n = rng.poisson(rate * (end - start)) if rate > 0 and end > start else 0
    return np.sort(rng.uniform(start, end, n))


def draw_ops(c: CacheScenario, seed: int) -> Ops:
    """The updates, the reconnect and the reads of one run, in time order (seeded)."""
    upd_rng, read_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    upd_t = _poisson_times(upd_rng, c.updates_per_s, 0.0, c.end_s)
    upd_k = upd_rng.integers(0, c.keys, upd_t.size)
    read_t = _poisson_times(read_rng, c.reads_per_s, c.down_s, c.end_s)
    read_k = read_rng.integers(0, c.keys, read_t.size)
    t = np.concatenate((upd_t, [c.down_s], read_t))
    kind = np.concatenate(
        (np.full(upd_t.size, UPDATE), [RECONNECT], np.full(read_t.size, READ))
    ).astype(np.int8)
    key = np.concatenate((upd_k, [-1], read_k)).astype(np.int64)
    order = np.lexsort((kind, t))  # an update at the reconnect instant counts as during it
    return Ops(kind=kind[order], key=key[order], t=t[order])


def replay(ops: Ops, *, flush: bool, keys: int | None = None, bcast: bool = False) -> CacheCounts:
    """Play ``ops`` through a tracking client whose cache holds every key at time 0.

    ``flush``: empty the local cache on the reconnect; ``bcast``: BCAST mode (every change
    announced while connected). Versions stand for values: a read is stale when the cached
    version differs from the server's.
    """
    n_keys = int(keys if keys is not None else (ops.key.max() + 1 if len(ops) else 1))
    server = np.zeros(n_keys, np.int64)
    cached = np.zeros(n_keys, np.int64)  # the version in the local cache, -1: not cached
    tracked = np.zeros(n_keys, bool)  # the connection was told to track it (0: it dropped)
    connected = False
    reads = hits = stale = invalidations = 0
    updated_while_down = np.zeros(n_keys, bool)
    stale_at: list[float] = []
    for kind, key, t in zip(ops.kind.tolist(), ops.key.tolist(), ops.t.tolist(), strict=True):
        if kind == UPDATE:
            server[key] += 1
            if not connected:
                updated_while_down[key] = True
            elif bcast or tracked[key]:  # the invalidation arrives: drop the copy, untrack
                tracked[key] = False
                cached[key] = -1
                invalidations += 1
        elif kind == RECONNECT:
            connected = True
            tracked[:] = False
            if flush:
                cached[:] = -1
        else:
            reads += 1
            if cached[key] >= 0:
                hits += 1
                if cached[key] != server[key]:
                    stale += 1
                    stale_at.append(t)
            else:  # GET on the tracking connection: cached and tracked from now on
                cached[key] = server[key]
                tracked[key] = True
    return CacheCounts(
        reads=reads,
        cache_hits=hits,
        stale_reads=stale,
        invalidations_after_reconnect=invalidations,
        keys_updated_while_down=int(updated_while_down.sum()),
        stale_at=np.array(stale_at, float),
    )


def expected_stale_reads(c: CacheScenario, *, flush: bool = False, by_s=None):
    """Expected stale reads (module docstring); 0 with the flush. ``by_s`` (a time or an
    array of times since the connection dropped): those expected by then instead."""
    t = np.clip(np.asarray(c.end_s if by_s is None else by_s, float), c.down_s, c.end_s)
    lam = c.updates_per_s / c.keys
    d = c.down_s
    if flush or lam == 0 or c.reads_per_s == 0:
        expected = np.zeros_like(t)
    elif c.tracking == "bcast":
        expected = c.reads_per_s * (1 - np.exp(-lam * d)) * (1 - np.exp(-lam * (t - d))) / lam
    else:
        expected = c.reads_per_s * ((t - d) - (np.exp(-lam * d) - np.exp(-lam * t)) / lam)
    return float(expected) if expected.ndim == 0 else expected


def expected_keys_updated_while_down(c: CacheScenario) -> float:
    """Expected distinct keys updated during the outage: ``keys (1 - exp(-lam d))``."""
    return c.keys * (1.0 - float(np.exp(-c.updates_per_s * c.down_s / c.keys)))


def simulate(c: CacheScenario, seed: int) -> dict[str, CacheCounts]:
    """One run of the model: the same operations for a client without and one with the
    flush on reconnect."""
    ops, bcast = draw_ops(c, seed), c.tracking == "bcast"
    return {
        "without_flush": replay(ops, flush=False, keys=c.keys, bcast=bcast),
        "with_flush": replay(ops, flush=True, keys=c.keys, bcast=bcast),
    }

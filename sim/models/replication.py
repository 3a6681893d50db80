"""Redis persistence and asynchronous replication with a failover: which acknowledged
writes survive a crash.

A standalone model (like :mod:`sim.models.throughput`, not a broker model of ``sim.run``):
the redis-durability lab (``labs.redis_durability``) is its real twin.

**Persistence** (:func:`restart_loss`). A client writes ``n`` records one after the other, each
acknowledged when its reply arrives, then the server dies. With ``appendonly no`` (and no
RDB snapshot) a restart starts empty: every acknowledged write is lost. With the AOF, Redis
``write(2)``s each event loop's commands to the file before it sends their replies; the
``appendfsync`` policy says when the file reaches the disk: ``always`` before the reply,
``everysec`` once a second (a background ``fsync``), ``no`` when the OS decides. A
*process* crash keeps what was written to the OS (its page cache survives), so with the AOF
on nothing acknowledged is lost -- except, with ``everysec``, when a slow ``fsync`` made
Redis postpone the ``write(2)`` (up to 2 s). A *power loss* keeps only what was fsynced:
with ``everysec`` the writes of the last second or so (``fsync_interval_s``), with
``always`` nothing acknowledged is lost, with ``appendfsync no`` whatever the OS had not yet
flushed (Linux: up to about 30 s).

**Failover** (:func:`simulate_failover`). A primary acknowledges writes at ``rate_per_s``
(open loop, a batch each ``tick_ms``) and sends them to its replica over a link whose
one-way delay is drawn per chunk (:class:`Lag`: a constant plus an exponential part). At
``kill_s`` the primary's machine fails -- process and link at once -- and the replica is
promoted. An acknowledged write is lost when it had not reached the replica:
``ack time + lag > kill time``. For a constant rate ``r`` and a constant delay ``d`` that
is the writes of the last ``d`` seconds, ``r * d`` (:func:`expected_failover_loss`). With
``WAIT 1 timeout`` after each batch, the client counts a write as safe only when ``WAIT``
said a replica had it: the batch is confirmed a round trip later (``2 d``: the data there,
the replica's ``REPLCONF ACK`` back), so no confirmed write is lost, and each write's
latency grows by that round trip.

>>> expected_failover_loss(rate_per_s=500.0, lag_ms=100.0)
50.0
>>> restart_loss("always", crash="process", acked=1000, duration_s=0.2)
0
>>> restart_loss("no-aof", crash="process", acked=1000, duration_s=0.2)
1000
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.core.validation import check_number

#: The persistence policies of the lab: no AOF, AOF with fsync every second, fsync always.
POLICIES = ("no-aof", "everysec", "always")
#: What crashes: the Redis process (the OS and its page cache survive) or the machine.
CRASHES = ("process", "power")
#: Seconds Linux keeps dirty pages before writing them back (vm.dirty_expire_centisecs).
OS_FLUSH_S = 30.0


def _check(name: str, value: float, low: float, high: float) -> None:
    """``ValueError`` naming the argument and its range unless ``low <= value <= high``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f'"{name}" must be a number in [{low:g}, {high:g}], got {value!r}.')
    if not low <= value <= high:
        raise ValueError(f'"{name}" must be in [{low:g}, {high:g}], got {value!r}.')


def restart_loss(
    policy: str, *, crash: str, acked: int, duration_s: float, fsync_interval_s: float = 1.0
) -> int:
    """Acknowledged writes lost after a restart, for ``acked`` writes spread evenly over
    ``duration_s`` seconds right before the crash (see the module docstring)."""
    if policy not in POLICIES:
        raise ValueError(f'"policy" must be one of {POLICIES}, got {policy!r}.')
    if crash not in CRASHES:
        raise ValueError(f'"crash" must be one of {CRASHES}, got {crash!r}.')
    _check("acked", acked, 0, 10**9)
    _check("duration_s", duration_s, 0.0, 1e6)
    if policy == "no-aof":
        return int(acked)
    if crash == "process" or policy == "always":
        return 0
    window = fsync_interval_s  # everysec on a power loss: the last fsync interval
    if duration_s <= window:
        return int(acked)
    return int(round(acked * window / duration_s))


@dataclass(frozen=True)
class Lag:
    """One-way delay of the replication link per chunk: ``constant_ms`` plus an exponential
    part of mean ``jitter_ms`` (0: constant)."""

    constant_ms: float
    jitter_ms: float = 0.0

    def __post_init__(self) -> None:
        check_number(self, "constant_ms", 0.0, 60000.0)
        check_number(self, "jitter_ms", 0.0, 60000.0)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` delays in seconds."""
        extra = rng.exponential(self.jitter_ms, n) if self.jitter_ms > 0 else np.zeros(n)
        return (self.constant_ms + extra) / 1000.0

    @property
    def mean_ms(self) -> float:
        return self.constant_ms + self.jitter_ms


@dataclass(frozen=True)
class FailoverRun:
    """One simulated failover: per write its intended time, the time the client got its
    acknowledgement (the primary's reply, or ``WAIT``'s with ``wait``), whether the
    promoted replica has it; ``nan`` ack time: never acknowledged (still in flight)."""

    rate_per_s: float
    lag: Lag
    kill_s: float
    wait: bool
    due: np.ndarray
    acked_at: np.ndarray
    on_replica: np.ndarray

    @property
    def acked(self) -> int:
        return int(np.isfinite(self.acked_at).sum())

    @property
    def lost(self) -> int:
        """Acknowledged writes the promoted replica does not have."""
        return int((np.isfinite(self.acked_at) & ~self.on_replica).sum())

    def latency_ms(self, q: float) -> float:
        """Percentile ``q`` (0-100) of acknowledged writes' latency from their due time."""
        ok = np.isfinite(self.acked_at)
        if not ok.any():
            return float("nan")
        return float(np.percentile((self.acked_at[ok] - self.due[ok]) * 1000.0, q))


def simulate_failover(
    *,
    rate_per_s: float,
    lag: Lag,
    kill_s: float,
    wait: bool = False,
    tick_ms: float = 5.0,
    service_ms: float = 0.2,
    seed: int = 0,
) -> FailoverRun:
    """Writes due at ``rate_per_s`` from time 0, sent each ``tick_ms`` in batches (one
    round trip of ``service_ms`` to the primary, plus with ``wait`` the replica's round
    trip); the primary and its link die at ``kill_s``."""
    _check("rate_per_s", rate_per_s, 0.1, 1e6)
    _check("kill_s", kill_s, 0.0, 3600.0)
    _check("tick_ms", tick_ms, 0.1, 10000.0)
    _check("service_ms", service_ms, 0.0, 10000.0)
    rng = np.random.default_rng(seed)
    n = int(np.floor(kill_s * rate_per_s)) + 1
    due = np.arange(n) / rate_per_s
    acked_at = np.full(n, np.nan)
    arrive = np.full(n, np.inf)  # when each write reached the replica
    t, i, tick, service = 0.0, 0, tick_ms / 1000.0, service_ms / 1000.0
    while i < n and t < kill_s:
        j = int(np.searchsorted(due, t, side="right"))  # writes due by now
        if j <= i:
            t = max(t + tick, due[i])
            continue
        sent = t + service  # the primary appended and replied
        if sent > kill_s:
            break
        there = sent + lag.draw(rng, 1)[0]  # the batch's chunk on the link
        arrive[i:j] = there
        done = sent
        if wait:
            done = there + lag.draw(rng, 1)[0]  # the replica's ACK back over the link
            if done > kill_s:
                break  # WAIT never returned: not acknowledged
        acked_at[i:j] = done
        i, t = j, max(done, t + tick)
    on_replica = arrive <= kill_s
    return FailoverRun(rate_per_s, lag, kill_s, wait, due, acked_at, on_replica)


def expected_failover_loss(*, rate_per_s: float, lag_ms: float) -> float:
    """Theory for a constant rate and delay: the writes acknowledged in the last ``lag``."""
    _check("rate_per_s", rate_per_s, 0.0, 1e6)
    _check("lag_ms", lag_ms, 0.0, 60000.0)
    return rate_per_s * lag_ms / 1000.0

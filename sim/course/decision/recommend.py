"""Deciding: an event class mapped to a tool, by simulating it.

An :class:`EventClass` describes one kind of event the way an architect
would: is losing one a business error (``critical``), do new consumers need the history
(``needs_replay``), must events of one key stay in order, how many independent consumers
read it, how fast it is and how long a consumer may be away. :func:`recommend` runs the
simulator with *those* numbers -- one Pub/Sub subscriber, one Kafka consumer group and one
Redis Streams group, each away for ``downtime_s`` -- and maps the outcome to a tool:

- ``pubsub``: transient events whose simulated loss stays within ``max_loss_fraction``;
- ``streams``: no loss, no replay of old history, no per-key order, a rate one Redis node
  handles (:attr:`Thresholds.streams_max_rate_per_s`) -- and, for a critical event, a Redis
  that persists the stream (``redis_persistence`` ``aof_everysec`` or ``aof_always``);
- ``kafka``: no loss plus replay, per-key order, a high rate, or a critical event on a Redis
  without AOF;
- ``hybrid``: Kafka for the facts plus a bridge to Pub/Sub when a durable event also has
  many live readers (``fan_out >= hybrid_fan_out``) wanting low latency
  (``latency_p95_ms <= live_latency_ms``).

**Redis persistence.** A stream survives a *consumer* outage (the simulator's question), but
it lives in the Redis server's memory: with ``--save "" --appendonly no`` -- how the course's
own Redis runs (``labs/stack/native.py``) -- a Redis restart loses it; RDB snapshots lose
what came after the last snapshot; AOF with ``appendfsync everysec`` (Redis's AOF default)
loses up to about a second of writes on a power loss, ``always`` fsyncs every write. Redis
replication is asynchronous (``WAIT`` only bounds it), so a failover can lose acknowledged
writes too. Redis docs, "Redis persistence":
https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/ and "Redis
replication": https://redis.io/docs/latest/operate/oss_and_stack/management/replication/.
So :func:`recommend` counts Streams as a store for a critical event only with AOF
(``redis_persistence``, default ``"none"``: the course's Redis).

**Redis replication and failover.** ``redis_replication`` says how the stream's Redis is
replicated: ``"none"`` (one node: no failover; losing its machine loses the stream until its
disk is back), ``"async"`` (a replica, Redis's default asynchronous replication: a failover
loses the acknowledged writes of the last replication lag, ``rate * replication_lag_ms``,
:func:`sim.models.replication.expected_failover_loss`; the redis-durability lab shows it on
real redis-server 7.0) or ``"wait"`` (writers call ``WAIT 1 <timeout>`` after each ``XADD``
or batch and retry what it did not confirm: no confirmed write is lost when the promoted
replica is the one that confirmed, at a cost of one replica round trip per write -- but
"WAIT does not make Redis a strongly consistent store ... it is possible to still lose a
write synchronously replicated to multiple replicas", Redis docs, "WAIT":
https://redis.io/docs/latest/commands/wait/; Jepsen's analysis of Redis reasons the same
way). A critical event goes to Streams only with AOF *and* ``"wait"``; with
``failover_must_lose_nothing`` (a zero-loss requirement that must hold through any
failover) it goes to Kafka (``acks=all``, ``min.insync.replicas=2``: lesson 13), which
Redis replication cannot promise. The recommendation states the required Redis
configuration and the residual loss.

The :class:`Recommendation` carries the tool, the reasons in words, and per tool the
simulated loss, peak lag and catch-up time.

>>> rec = recommend(EventClass("price tick", critical=False, fan_out=50, rate_per_s=500,
...                            downtime_s=2, max_loss_fraction=0.05))
>>> rec.tool
'pubsub'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.analysis.metrics import LagProfile
from sim.analysis.result import Result
from sim.core.engine import run
from sim.models.replication import expected_failover_loss

TOOLS = ("pubsub", "streams", "kafka", "hybrid")
ORDERINGS = ("none", "per_key")
#: The simulator runs at most about this many messages; beyond, rates are scaled down.
MAX_SIMULATED_MESSAGES = 100_000

# --------------------------------------------------------------------------- event classes


def _number(obj: Any, name: str, lo: float, hi: float, *, integer: bool = False) -> None:
    v = getattr(obj, name)
    cls = type(obj).__name__
    if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
        raise TypeError(f'{cls} "{name}" must be a number, got {type(v).__name__}.')
    if math.isnan(float(v)) or not lo <= float(v) <= hi:
        raise ValueError(f'{cls} "{name}" must be in [{lo:g}, {hi:g}], got {v!r}.')
    if integer and not float(v).is_integer():
        raise ValueError(f'{cls} "{name}" must be an integer, got {v!r}.')
    object.__setattr__(obj, name, int(v) if integer else float(v))


#: Redis persistence settings :func:`recommend` knows (see the module docstring).
REDIS_PERSISTENCE = ("none", "rdb", "aof_everysec", "aof_always")
#: Redis replication settings :func:`recommend` knows (see the module docstring).
REDIS_REPLICATION = ("none", "async", "wait")


@dataclass(frozen=True)
class Thresholds:
    """The three numbers that turn simulated outcomes into a verdict, with where they come
    from. They are policy, not physics: pass your own to :func:`recommend`.

    ``streams_max_rate_per_s`` = 50,000 events/s: one Redis server executes commands on one
    thread; ``redis-benchmark`` on an ordinary server reports on the order of 100,000 simple
    commands/s without pipelining (Redis docs, "Redis benchmark":
    https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/benchmarks/).
    A stream event costs at least two commands -- its ``XADD`` and its ``XACK`` (plus a share
    of an ``XREADGROUP`` per batch) -- so 100,000 / 2 = 50,000 events/s fills that one thread;
    above it, a partitioned log (or many streams, sharded by hand) is the plain choice.
    Re-derive it from your own ``redis-benchmark`` figure and command count per event.

    ``hybrid_fan_out`` = 10 readers: a judgment, not a measured limit. Up to a handful of
    consuming *services*, each gets its own consumer group (a group per service is the usual
    pattern). Beyond that the readers are typically short-lived (dashboards, browser sessions
    behind a gateway) that want a push and no history: giving each a group means joins,
    rebalances and committed offsets for readers that never replay.

    ``live_latency_ms`` = 100 ms: "live" means a person watching; about 0.1 s is the limit
    for a response to feel instantaneous (J. Nielsen, "Response Times: The 3 Important
    Limits", 1993, after Miller 1968: https://www.nngroup.com/articles/response-times-3-important-limits/).
    """

    streams_max_rate_per_s: float = 50_000.0
    hybrid_fan_out: int = 10
    live_latency_ms: float = 100.0

    def __post_init__(self) -> None:
        _number(self, "streams_max_rate_per_s", 1.0, 1e9)
        _number(self, "hybrid_fan_out", 1, 100_000, integer=True)
        _number(self, "live_latency_ms", 0.1, 1e9)


@dataclass(frozen=True)
class EventClass:
    """One kind of event and what its consumers need.

    ``critical``: losing one is a business error (a payment, an order). ``needs_replay``:
    new or repaired consumers must read past events (bootstrap, audit, rebuild).
    ``ordering``: ``per_key`` when events of one key must be processed in order.
    ``fan_out``: independent consumers (services, dashboards, browsers). ``latency_p95_ms``:
    the end-to-end latency objective in normal operation. ``rate_per_s``: mean publish rate.
    ``downtime_s``: the longest consumer outage to survive (a deploy, a crash, a flap).
    ``outages_per_day``: how often that happens. ``max_loss_fraction``: acceptable share
    of a day's events lost (0 for critical ones). ``service_rate_per_s``: how many events
    one consumer processes per second (default: twice the publish rate).
    """

    name: str
    critical: bool = False
    needs_replay: bool = False
    ordering: str = "none"
    fan_out: int = 1
    latency_p95_ms: float = 1000.0
    rate_per_s: float = 100.0
    downtime_s: float = 60.0
    outages_per_day: float = 1.0
    max_loss_fraction: float = 0.0
    service_rate_per_s: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError('EventClass "name" must be a non-empty string.')
        for flag in ("critical", "needs_replay"):
            if not isinstance(getattr(self, flag), bool | np.bool_):
                raise TypeError(f'EventClass "{flag}" must be true or false.')
            object.__setattr__(self, flag, bool(getattr(self, flag)))
        if self.ordering not in ORDERINGS:
            raise ValueError(f'EventClass "ordering" must be one of {list(ORDERINGS)}, got '
                             f"{self.ordering!r}.")  # fmt: skip
        _number(self, "fan_out", 1, 100_000, integer=True)
        _number(self, "latency_p95_ms", 0.1, 1e9)
        _number(self, "rate_per_s", 0.01, 1e7)
        _number(self, "downtime_s", 0.0, 86_400)
        _number(self, "outages_per_day", 0.0, 10_000)
        _number(self, "max_loss_fraction", 0.0, 1.0)
        if self.service_rate_per_s is None:
            object.__setattr__(self, "service_rate_per_s", 2.0 * self.rate_per_s)
        _number(self, "service_rate_per_s", 0.01, 1e8)
        if self.service_rate_per_s <= self.rate_per_s:
            raise ValueError(
                f'EventClass "service_rate_per_s" must exceed "rate_per_s" '
                f"({self.rate_per_s:g}), or the backlog never drains."
            )
        if self.critical and self.max_loss_fraction > 0:
            raise ValueError('EventClass "max_loss_fraction" must be 0 for a critical event.')


@dataclass(frozen=True)
class ToolNumbers:
    """What the simulator predicts for one tool and one outage: events lost, their share of
    the events published between two outages (a day / ``outages_per_day``), the peak
    backlog, the time from the end of the outage until the backlog is gone, and the p95
    latency over the simulated run (outage included)."""

    tool: str
    lost: float
    loss_fraction: float
    peak_lag: float
    catch_up_s: float
    latency_p95_ms: float


@dataclass(frozen=True)
class Recommendation:
    """A tool for an event class, the reasons in words and the simulator's numbers."""

    event_class: EventClass
    tool: str
    reasons: tuple[str, ...]
    numbers: Mapping[str, ToolNumbers]
    scale: float
    result: Result = field(repr=False)

    def table(self) -> str:
        """The simulated numbers per tool, as fixed-width text."""
        head = f"{'tool':8} {'lost/outage':>12} {'loss %':>14} {'peak lag':>10} {'catch-up s':>11}"
        lines = [head]
        for n in self.numbers.values():
            lines.append(
                f"{n.tool:8} {n.lost:12.0f} {100 * n.loss_fraction:14.4f} {n.peak_lag:10.0f} "
                f"{_fmt(n.catch_up_s, 11)}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        why = "\n".join(f"  - {r}" for r in self.reasons)
        return f"{self.event_class.name}: {self.tool}\n{why}\n\n{self.table()}"

    def _repr_markdown_(self) -> str:
        why = "\n".join(f"- {r}" for r in self.reasons)
        return f"**{self.event_class.name} → {self.tool}**\n\n{why}\n\n```\n{self.table()}\n```"


def _fmt(v: float, width: int) -> str:
    return f"{'-':>{width}}" if math.isnan(v) else f"{v:{width}.1f}"


def scenario_for(ec: EventClass) -> tuple[dict, float]:
    """The simulator scenario behind :func:`recommend` and the rate scale it uses.

    One subscriber, one consumer group and one stream group read the same events; each is
    away for ``downtime_s``, and publishing goes on until the backlog should be gone
    (backlog / (service rate - rate), with a margin). When the run would exceed
    :data:`MAX_SIMULATED_MESSAGES`, publish and service rates are scaled down together
    (loss shares and catch-up times are unchanged; counts are scaled back up).
    """
    start = _outage_start(ec)
    backlog = ec.rate_per_s * ec.downtime_s
    window = start + ec.downtime_s + 1.3 * backlog / (ec.service_rate_per_s - ec.rate_per_s) + 2
    scale = min(1.0, MAX_SIMULATED_MESSAGES / (ec.rate_per_s * window))
    service_ms = 1000.0 / (ec.service_rate_per_s * scale)
    service = {"kind": "exponential", "mean_ms": service_ms}
    faults = []
    if ec.downtime_s > 0:
        faults = [
            ["subscriber_down", "subscriber:0", start, ec.downtime_s],
            ["consumer_crash", "group:0:0", start, ec.downtime_s],
            ["consumer_crash", "stream-group:0:0", start, ec.downtime_s],
        ]
    scenario = {
        "name": ec.name,
        "workload": {"rate_per_s": ec.rate_per_s * scale, "duration_s": window, "keys": 1000},
        "topology": {"pubsub": {"buffer_hard_bytes": 0, "buffer_soft_bytes": 0},
                     "log": {"partitions": 1}},
        "consumers": {
            "subscribers": [{"service": service, "reconnect_delay_ms": 0}],
            "groups": [{"service": service, "max_poll_records": 100}],
            "stream_groups": [{"service": service, "count": 100}],
        },
        "faults": faults,
        "drain_s": 5.0,
        "lag_points": 1000,
    }  # fmt: skip
    return scenario, scale


def _outage_start(ec: EventClass) -> float:
    return max(1.0, ec.downtime_s / 2)


def recommend(
    event_class: EventClass,
    seed: int = 0,
    *,
    redis_persistence: str = "none",
    redis_replication: str = "none",
    replication_lag_ms: float = 1.0,
    failover_must_lose_nothing: bool = False,
    thresholds: Thresholds | None = None,
) -> Recommendation:
    """Simulate ``event_class`` on the three tools and choose one; see the module docstring.

    ``redis_persistence``: how the Redis that would hold a stream persists it, one of
    :data:`REDIS_PERSISTENCE` (default ``"none"``, as the course's Redis runs).
    ``redis_replication``: how it is replicated, one of :data:`REDIS_REPLICATION`;
    ``replication_lag_ms``: how far its replica is behind (ms, for the failover loss);
    ``failover_must_lose_nothing``: a failover must lose no acknowledged event.
    ``thresholds``: the verdict's numbers (default :class:`Thresholds`, derived there).
    """
    if not isinstance(event_class, EventClass):
        raise TypeError(f'"event_class" must be an EventClass, got {type(event_class).__name__}.')
    if redis_persistence not in REDIS_PERSISTENCE:
        raise ValueError(
            f'"redis_persistence" must be one of {list(REDIS_PERSISTENCE)}, '
            f"got {redis_persistence!r}."
        )
    if redis_replication not in REDIS_REPLICATION:
        raise ValueError(
            f'"redis_replication" must be one of {list(REDIS_REPLICATION)}, '
            f"got {redis_replication!r}."
        )
    if isinstance(replication_lag_ms, bool) or not isinstance(replication_lag_ms, int | float):
        raise ValueError(f'"replication_lag_ms" must be a number, got {replication_lag_ms!r}.')
    if not 0 <= replication_lag_ms <= 3_600_000:
        raise ValueError(
            f'"replication_lag_ms" must be in [0, 3600000] ms, got {replication_lag_ms!r}.'
        )
    if not isinstance(failover_must_lose_nothing, bool):
        raise ValueError('"failover_must_lose_nothing" must be true or false.')
    redis = _RedisSetup(
        redis_persistence, redis_replication, float(replication_lag_ms), failover_must_lose_nothing
    )
    if thresholds is None:
        thresholds = Thresholds()
    elif not isinstance(thresholds, Thresholds):
        raise TypeError(f'"thresholds" must be a Thresholds, got {type(thresholds).__name__}.')
    ec = event_class
    scenario, scale = scenario_for(ec)
    result = run(scenario, seed=seed)
    end = _outage_start(ec) + ec.downtime_s
    per_outage = ec.rate_per_s * 86_400 / max(ec.outages_per_day, 1e-12)
    numbers = {
        tool: _numbers(tool, result, reader, scale, end, per_outage)
        for tool, reader in (
            ("pubsub", "subscriber:0"),
            ("streams", "stream-group:0"),
            ("kafka", "group:0"),
        )
    }
    tool, reasons = _choose(ec, numbers, redis, thresholds)
    return Recommendation(ec, tool, tuple(reasons), numbers, scale, result)


def _numbers(
    tool: str, result: Result, reader: str, scale: float, outage_end: float, per_outage: float
) -> ToolNumbers:
    """``per_outage``: events published between two outages (a day / outages per day)."""
    row = result.report[reader]
    s = result.series.get(f"lag:{reader}")
    peak, catch_up = 0.0, float("nan")
    if s is not None and s.value.size:
        prof = LagProfile(s.t, s.value)
        peak = prof.peak
        catch_up = prof.recovery_s(outage_end) if peak > 0 else 0.0
    return ToolNumbers(
        tool=tool,
        lost=row.lost / scale,
        loss_fraction=min(1.0, row.lost / scale / per_outage),
        peak_lag=peak / scale,
        catch_up_s=catch_up,
        latency_p95_ms=1000.0 * row.latency_p95_s,
    )


@dataclass(frozen=True)
class _RedisSetup:
    """How the Redis of a stream persists and replicates it (see the module docstring)."""

    persistence: str
    replication: str
    lag_ms: float
    strict_failover: bool

    def failover_gap(self, ec: EventClass) -> str | None:
        """Why a failover can lose a critical event on this setup (None: it cannot, as far
        as Redis promises)."""
        if self.replication == "async":
            n = expected_failover_loss(rate_per_s=ec.rate_per_s, lag_ms=self.lag_ms)
            return (
                f"asynchronous replication: a failover loses the acknowledged writes of the "
                f"replica's lag, {ec.rate_per_s:g}/s x {self.lag_ms:g} ms = about {n:.3g} "
                "events (WAIT 1 after each write closes most of it)"
            )
        if self.strict_failover and self.replication == "wait":
            return (
                "a failover must lose nothing: WAIT does not make Redis strongly consistent "
                "(a failover may promote a replica without a confirmed write: Redis docs, "
                "WAIT); Kafka acks=all + min.insync.replicas=2 keeps every acknowledged write"
            )
        if self.strict_failover:
            return "a failover must lose nothing: one Redis node has no failover at all"
        return None

    def residual(self, ec: EventClass) -> list[str]:
        """The required configuration and what can still be lost, for Streams."""
        fsync = "always" if self.persistence == "aof_always" else "everysec"
        out = []
        if self.persistence.startswith("aof"):
            out.append(
                f"required: appendonly yes, appendfsync {fsync}; a process crash loses no "
                "acknowledged write, a power loss "
                + ("none" if fsync == "always" else f"about 1 s of them (~{ec.rate_per_s:.3g})")
            )
        if self.replication == "none":
            out.append("one Redis node: no failover; losing its machine loses the stream")
        elif self.replication == "async":
            n = expected_failover_loss(rate_per_s=ec.rate_per_s, lag_ms=self.lag_ms)
            out.append(f"a failover loses about {n:.3g} acknowledged events (rate x lag)")
        else:
            out.append(
                "writers: WAIT 1 <timeout> after each XADD (or batch), retry what it did not "
                f"confirm (consumers dedupe by id); costs a replica round trip (~"
                f"{2 * self.lag_ms:g} ms) per write; residual: WAIT is not strong consistency"
            )
        return out


def _choose(
    ec: EventClass, numbers: Mapping[str, ToolNumbers], redis: _RedisSetup, th: Thresholds
) -> tuple[str, list[str]]:
    persistence = redis.persistence
    ps, kafka, st = numbers["pubsub"], numbers["kafka"], numbers["streams"]
    loss_ok = ps.loss_fraction <= ec.max_loss_fraction
    lost = (
        f"Pub/Sub loses {ps.lost:.0f} events per {ec.downtime_s:g} s outage "
        f"({100 * ps.loss_fraction:.2g} % of the events between outages)"
    )
    if not ec.critical and not ec.needs_replay and loss_ok:
        return "pubsub", [
            f"transient: {lost}, within the acceptable {100 * ec.max_loss_fraction:.2g} %",
            "no history needed: nothing to store, lowest latency",
            f"fan-out to {ec.fan_out} reader(s) costs one PUBLISH each",
        ]
    if ec.critical:
        reasons = [f"critical: {lost}; none allowed"]
    elif not loss_ok:
        reasons = [f"{lost}: above the acceptable {100 * ec.max_loss_fraction:.2g} %"]
    else:
        reasons = []
    if ec.needs_replay:
        reasons.append("replay needed: consumers must read history (offsets, seek, new groups)")
    if ec.ordering == "per_key":
        reasons.append("per-key order: a key-partitioned log keeps it with many consumers")
    too_fast = ec.rate_per_s > th.streams_max_rate_per_s
    if too_fast:
        reasons.append(
            f"{ec.rate_per_s:g} events/s: above the {th.streams_max_rate_per_s:g}/s one Redis "
            "thread comfortably takes"
        )
    redis_loses = ec.critical and not persistence.startswith("aof")
    plain = not (ec.needs_replay or ec.ordering == "per_key" or too_fast)
    if redis_loses and plain:
        reasons.append(
            f"Redis persistence {persistence!r}: a Redis restart loses the stream (the course's "
            'Redis runs with --save "" --appendonly no); a stream is a store only with AOF'
        )
    gap = redis.failover_gap(ec) if ec.critical and not redis_loses else None
    if gap and plain:
        reasons.append(gap)
    redis_loses = redis_loses or gap is not None
    durable = (
        f"a durable log loses nothing: peak backlog {kafka.peak_lag:.0f} events, "
        f"caught up {_secs(kafka.catch_up_s)} after the consumer returns"
    )
    if ec.fan_out >= th.hybrid_fan_out and ec.latency_p95_ms <= th.live_latency_ms:
        return "hybrid", [
            *reasons,
            durable,
            f"{ec.fan_out} live readers want p95 <= {ec.latency_p95_ms:g} ms: a bridge "
            "publishes each fact as a notification; losing one never loses the fact",
        ]
    if ec.needs_replay or ec.ordering == "per_key" or too_fast or redis_loses:
        return "kafka", [*reasons, durable]
    kept = {
        "none": "not persisted: a Redis restart loses it (acceptable for a non-critical event)",
        "rdb": "snapshotted (RDB): a Redis restart loses what came after the last snapshot",
        "aof_everysec": "in the AOF, fsynced every second: a power loss can cost ~1 s of writes",
        "aof_always": "in the AOF, fsynced on every write",
    }[persistence]
    return "streams", [
        *reasons,
        f"a stream with a consumer group survives the consumer's outage (PEL + XAUTOCLAIM): "
        f"peak backlog {st.peak_lag:.0f} events, caught up {_secs(st.catch_up_s)} after the "
        "consumer returns",
        f"the stream is {kept}",
        *(redis.residual(ec) if ec.critical else []),
        "no replay of old history or per-key order needed: no partitions to run",
    ]


def _secs(v: float) -> str:
    return "at once" if v == 0 else ("never within the run" if math.isnan(v) else f"{v:.1f} s")

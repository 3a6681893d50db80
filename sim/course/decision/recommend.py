"""Deciding: an event class mapped to a tool, by simulating it.

An :class:`EventClass` describes one kind of event the way an architect
would: is losing one a business error (``critical``), do new consumers need the history
(``needs_replay``), must events of one key stay in order, how many independent consumers
read it, how fast it is and how long a consumer may be away. :func:`recommend` runs the
simulator with *those* numbers -- one Pub/Sub subscriber, one Kafka consumer group and one
Redis Streams group, each away for ``downtime_s`` -- and maps the outcome to a tool:

- ``pubsub``: transient events whose simulated loss stays within ``max_loss_fraction``;
- ``streams``: no loss, no replay of old history, no per-key order, a rate one Redis node
  handles (``STREAMS_MAX_RATE_PER_S``);
- ``kafka``: no loss plus replay, per-key order or a high rate;
- ``hybrid``: Kafka for the facts plus a bridge to Pub/Sub when a durable event also has
  many live readers (``fan_out >= HYBRID_FAN_OUT``) wanting low latency.

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

TOOLS = ("pubsub", "streams", "kafka", "hybrid")
ORDERINGS = ("none", "per_key")
#: Above this rate one Redis node (and one stream) is no longer the comfortable choice.
STREAMS_MAX_RATE_PER_S = 50_000.0
#: From this many independent live readers on, a durable event also gets a Pub/Sub fan-out.
HYBRID_FAN_OUT = 10
#: Latency (p95, ms) below which "live" readers want a push channel rather than polling.
LIVE_LATENCY_MS = 100.0
#: The simulator runs at most about this many messages; beyond, rates are scaled down.
MAX_SIMULATED_MESSAGES = 100_000

# --------------------------------------------------------------------------- event classes


def _number(obj: Any, name: str, lo: float, hi: float, *, integer: bool = False) -> None:
    v = getattr(obj, name)
    if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
        raise TypeError(f'EventClass "{name}" must be a number, got {type(v).__name__}.')
    if math.isnan(float(v)) or not lo <= float(v) <= hi:
        raise ValueError(f'EventClass "{name}" must be in [{lo:g}, {hi:g}], got {v!r}.')
    if integer and not float(v).is_integer():
        raise ValueError(f'EventClass "{name}" must be an integer, got {v!r}.')
    object.__setattr__(obj, name, int(v) if integer else float(v))


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


def recommend(event_class: EventClass, seed: int = 0) -> Recommendation:
    """Simulate ``event_class`` on the three tools and choose one; see the module docstring."""
    if not isinstance(event_class, EventClass):
        raise TypeError(f'"event_class" must be an EventClass, got {type(event_class).__name__}.')
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
    tool, reasons = _choose(ec, numbers)
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


def _choose(ec: EventClass, numbers: Mapping[str, ToolNumbers]) -> tuple[str, list[str]]:
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
    if ec.rate_per_s > STREAMS_MAX_RATE_PER_S:
        reasons.append(f"{ec.rate_per_s:g} events/s: more than one Redis node comfortably takes")
    durable = (
        f"a durable log loses nothing: peak backlog {kafka.peak_lag:.0f} events, "
        f"caught up {_secs(kafka.catch_up_s)} after the consumer returns"
    )
    if ec.fan_out >= HYBRID_FAN_OUT and ec.latency_p95_ms <= LIVE_LATENCY_MS:
        return "hybrid", [
            *reasons,
            durable,
            f"{ec.fan_out} live readers want p95 <= {ec.latency_p95_ms:g} ms: a bridge "
            "publishes each fact as a notification; losing one never loses the fact",
        ]
    if ec.needs_replay or ec.ordering == "per_key" or ec.rate_per_s > STREAMS_MAX_RATE_PER_S:
        return "kafka", [*reasons, durable]
    return "streams", [
        *reasons,
        f"a stream with a consumer group loses nothing (PEL + XAUTOCLAIM): peak backlog "
        f"{st.peak_lag:.0f} events, caught up {_secs(st.catch_up_s)} after the consumer returns",
        "no replay of old history or per-key order needed: no partitions to run",
    ]


def _secs(v: float) -> str:
    return "at once" if v == 0 else ("never within the run" if math.isnan(v) else f"{v:.1f} s")

"""Deciding, and watching: event classes mapped to a tool, SLOs and alert rules.

**Decision.** An :class:`EventClass` describes one kind of event the way an architect
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

**Observability.** :class:`SLO` and :func:`check_slo` compare a reader of any
:class:`~sim.result.Result` (simulator or lab) with p95 latency, loss and lag objectives.
:class:`AlertRule` and :func:`fires_at` evaluate a threshold rule on a lag series, its rate
or its *acceleration*, and say when it would fire; :func:`alerts_figure` draws them.

**Readiness.** :data:`CHECKLIST` is the production-readiness list of lesson 12 and
:func:`schema_problems` the kind of schema-compatibility check a CI job runs.

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
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sim.engine import run
from sim.metrics import LagProfile
from sim.result import Result, Series

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


def recommendation_figure(rec: Recommendation) -> Figure:
    """Per tool: events lost per outage and the time to catch up after it, with the
    recommended tool named in the title."""
    nums = list(rec.numbers.values())
    x = np.arange(len(nums))
    chosen = ("kafka", "pubsub") if rec.tool == "hybrid" else (rec.tool,)
    colors = ["tab:orange" if n.tool in chosen else "tab:blue" for n in nums]
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    ax1.bar(x, [n.lost for n in nums], color=colors)
    ax1.set_title("Events lost per outage")
    ax1.set_ylabel("events lost (count)")
    catch = [0.0 if math.isnan(n.catch_up_s) else n.catch_up_s for n in nums]
    ax2.bar(x, catch, color=colors)
    for i, n in enumerate(nums):
        if math.isnan(n.catch_up_s) and n.lost > 0:
            ax2.text(i, 0, "no backlog:\nlost instead", ha="center", va="bottom", fontsize="small")
    ax2.set_title("Catch-up after the outage")
    ax2.set_ylabel("catch-up time (s)")
    for ax in (ax1, ax2):
        ax.set_xticks(x, [n.tool for n in nums])
        ax.set_xlabel("tool")
    ax1.legend(
        handles=[
            Patch(color="tab:orange", label=f"recommended ({rec.tool})"),
            Patch(color="tab:blue", label="other tools"),
        ],
        loc="upper right",
    )
    ec = rec.event_class
    fig.suptitle(
        f"{ec.name}: {ec.rate_per_s:g} events/s, consumer away {ec.downtime_s:g} s -> {rec.tool}"
    )
    return fig


def _secs(v: float) -> str:
    return "at once" if v == 0 else ("never within the run" if math.isnan(v) else f"{v:.1f} s")


# --------------------------------------------------------------------------- SLOs


@dataclass(frozen=True)
class SLO:
    """Service level objectives for one reader: p95 end-to-end latency (ms), the acceptable
    share of lost events, and the largest acceptable backlog (events)."""

    latency_p95_ms: float = 1000.0
    max_loss_fraction: float = 0.0
    max_lag: float = math.inf

    def __post_init__(self) -> None:
        for name, lo, hi in (
            ("latency_p95_ms", 0.0, math.inf),
            ("max_loss_fraction", 0.0, 1.0),
            ("max_lag", 0.0, math.inf),
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
                raise ValueError(f'SLO "{name}" must be a number in [{lo:g}, {hi:g}], got {v!r}.')


@dataclass(frozen=True)
class SLOCheck:
    """One objective: its target, the measured value and whether it is met."""

    objective: str
    target: float
    actual: float
    met: bool


def peak_lag(result: Result, reader: str) -> float:
    """The reader's peak lag: the metric when the run has one, else the series' maximum,
    else 0 (a Pub/Sub subscriber has no backlog to lag behind)."""
    m = result.metrics.get(f"peak_lag:{reader}")
    if m is not None:
        return float(m)
    s = result.series.get(f"lag:{reader}")
    return float(s.value.max()) if s is not None and s.value.size else 0.0


def check_slo(result: Result, reader: str, slo: SLO) -> tuple[SLOCheck, ...]:
    """Compare ``reader`` of ``result`` with ``slo``: one :class:`SLOCheck` per objective."""
    row = result.report[reader]
    p95 = 1000.0 * row.latency_p95_s
    lag = peak_lag(result, reader)
    return (
        SLOCheck("p95 latency (ms)", slo.latency_p95_ms, p95, bool(p95 <= slo.latency_p95_ms)),
        SLOCheck("loss (share)", slo.max_loss_fraction, row.loss_fraction,
                 row.loss_fraction <= slo.max_loss_fraction),
        SLOCheck("peak lag (events)", slo.max_lag, lag, lag <= slo.max_lag),
    )  # fmt: skip


def slo_table(checks: tuple[SLOCheck, ...]) -> str:
    """SLO checks as fixed-width text."""
    lines = [f"{'objective':18} {'target':>10} {'actual':>10}  met"]
    for c in checks:
        lines.append(
            f"{c.objective:18} {c.target:10.4g} {c.actual:10.4g}  {'yes' if c.met else 'NO'}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- alert rules

SIGNALS = ("lag", "lag_rate", "lag_accel")
_UNITS = {"lag": "events", "lag_rate": "events/s", "lag_accel": "events/s²"}


@dataclass(frozen=True)
class AlertRule:
    """Fire when ``signal`` (the lag, its rate or its acceleration) stays at or above
    ``threshold`` for ``for_s`` seconds -- like a Prometheus rule's ``for:`` clause. Rates
    are taken over a trailing ``window_s`` (like ``deriv(lag[2s])``)."""

    name: str
    signal: str
    threshold: float
    for_s: float = 0.0
    window_s: float = 2.0

    def __post_init__(self) -> None:
        if self.signal not in SIGNALS:
            raise ValueError(
                f'AlertRule "signal" must be one of {list(SIGNALS)}, got {self.signal!r}.'
            )
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int | float):
            raise ValueError(f'AlertRule "threshold" must be a number, got {self.threshold!r}.')
        if (
            isinstance(self.for_s, bool)
            or not isinstance(self.for_s, int | float)
            or self.for_s < 0
        ):
            raise ValueError(f'AlertRule "for_s" must be a number >= 0, got {self.for_s!r}.')
        w = self.window_s
        if isinstance(w, bool) or not isinstance(w, int | float) or not w > 0:
            raise ValueError(f'AlertRule "window_s" must be a number > 0, got {w!r}.')


def signals(result: Result, reader: str, window_s: float = 2.0) -> dict[str, Series]:
    """The lag of ``reader``, its rate and its acceleration.

    Like a dashboard's ``deriv()`` over a window, the rate at ``t`` is the change of the lag
    over the trailing ``window_s`` seconds divided by ``window_s``, and the acceleration is
    the same difference taken on the rate -- causal (an alert cannot see the future) and
    smooth enough that arrival noise does not look like a trend. Both are 0 until a full
    window has passed. Works on simulator and lab results alike (any result with a
    ``lag:<reader>`` series).
    """
    s = result.series.get(f"lag:{reader}")
    if s is None:
        have = sorted(n for n in result.series if n.startswith("lag:"))
        raise KeyError(f"no lag series for reader {reader!r}; lag series: {have}")
    rate = _windowed(s.t, s.value, window_s)
    accel = _windowed(s.t, rate, window_s)
    return {
        "lag": Series("lag", s.t, s.value, "events"),
        "lag_rate": Series("lag_rate", s.t, rate, "events/s"),
        "lag_accel": Series("lag_accel", s.t, accel, "events/s²"),
    }


def _windowed(t: np.ndarray, v: np.ndarray, window_s: float) -> np.ndarray:
    """(v(t) - v(t - window)) / window on a sampled series (step-function lookup)."""
    out = np.zeros(v.size)
    if v.size < 2 or window_s <= 0:
        return out
    j = np.searchsorted(t, t - window_s, side="right") - 1
    ok = j >= 0
    out[ok] = (v[ok] - v[j[ok]]) / window_s
    return out


def fires_at(rule: AlertRule, result: Result, reader: str) -> float:
    """The time (s) at which ``rule`` fires on ``reader`` of ``result``; NaN if it never does."""
    s = signals(result, reader, rule.window_s)[rule.signal]
    above = s.value >= rule.threshold
    start = None
    for t, a in zip(s.t, above, strict=True):
        if not a:
            start = None
            continue
        start = t if start is None else start
        if t - start >= rule.for_s:
            return float(t)
    return float("nan")


def alerts_figure(
    result: Result, reader: str, rules: list[AlertRule], window_s: float | None = None
) -> Figure:
    """Lag, lag rate and lag acceleration of ``reader`` stacked (rates over ``window_s``,
    by default the first rule's), each rule's threshold as a dashed line and its firing
    time as a vertical line."""
    window = window_s if window_s is not None else (rules[0].window_s if rules else 2.0)
    sig = signals(result, reader, window)
    fig = Figure(figsize=(9, 6.5), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True)
    colors = ["tab:red", "tab:purple", "tab:green", "tab:brown"]
    for ax, name in zip(axes, SIGNALS, strict=True):
        s = sig[name]
        ax.plot(s.t, s.value, color="tab:blue", label=name.replace("_", " "))
        ax.set_ylabel(f"{name.replace('_', ' ')} ({_UNITS[name]})")
    for rule, color in zip(rules, colors * 4, strict=False):
        ax = axes[SIGNALS.index(rule.signal)]
        ax.axhline(rule.threshold, color=color, linestyle="--", label=f"{rule.name} threshold")
        when = fires_at(rule, result, reader)
        if not math.isnan(when):
            for a in axes:
                a.axvline(when, color=color, linewidth=1)
            ax.plot([], [], color=color, linewidth=1, label=f"{rule.name} fires ({when:.1f} s)")
    for ax in axes:
        ax.legend(loc="upper right", fontsize="small")
    axes[-1].set_xlabel("time (s)")
    fig.suptitle(f"Lag and its derivatives with alert rules - {result.name} ({reader})")
    return fig


# --------------------------------------------------------------------------- readiness

#: The production-readiness checklist of lesson 12: (item, what "done" looks like).
CHECKLIST: tuple[tuple[str, str], ...] = (
    ("classification", "every event type is critical or transient, with an owner"),
    ("durability", "retention and replay needs written down; critical events on a log"),
    ("idempotency", "consumers dedupe by event id; producers idempotent (acks=all)"),
    ("naming", "topics/channels named <domain>.<entity>.<event>.v<N>, one owning team"),
    ("backpressure", "queue, shed or degrade chosen per consumer; buffer limits set"),
    ("poison messages", "bounded retries with backoff, a dead-letter topic, a replay tool"),
    ("SLOs", "p95 latency, acceptable loss and max lag per event class, alerted on"),
    ("observability", "lag and lag acceleration, DLQ volume, disconnects on a dashboard"),
    ("schema versioning", "schemas in the repo; CI rejects incompatible changes"),
    ("failure drills", "consumer outage, broker failover and rebuild rehearsed"),
)


def schema_problems(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Backward-compatibility problems between two versions of an event schema.

    A schema here maps field names to ``{"type": ..., "required": bool}``. A new version
    may add optional fields; it must not remove a field, change a field's type, or add a
    required field (old producers do not send it). A CI job runs this on every change.
    """
    problems = []
    for name, spec in old.items():
        if name not in new:
            problems.append(f"field {name!r} removed")
        elif new[name].get("type") != spec.get("type"):
            problems.append(
                f"field {name!r} changed type {spec.get('type')!r} -> {new[name].get('type')!r}"
            )
    for name, spec in new.items():
        if name not in old and spec.get("required", False):
            problems.append(f"field {name!r} added as required")
    return problems

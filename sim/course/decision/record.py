"""The capstone's decision record: per event class the tool and why, its configuration, its
SLOs and alert rules, and a failure drill -- written as Markdown for the learner to keep.

:func:`decide` takes an :class:`~sim.course.decision.events_file.EventsFile` and, per event
class, runs :func:`~sim.course.decision.recommend.recommend` (the simulator through the
class's own outage on the three tools), derives the configuration
(:func:`~sim.course.decision.settings.settings_for`), checks the class's SLO against the
simulated outage (:func:`~sim.course.decision.slo.check_slo`), says when each alert rule
fires in it (:func:`~sim.course.decision.alerts.fires_at`), and drills the chosen tool's
worst fault:

- every tool: the consumer (or subscriber) away for ``downtime_s`` -- the recommendation's run;
- Kafka (and a hybrid's facts): the partition leader killed while its followers stall
  (:func:`sim.course.durability.simulate_durability`, lesson 13's twin) with the producer's
  ``acks`` and ``min.insync.replicas`` of the configuration;
- Redis Streams: a Redis crash with the configured persistence -- what the Redis
  persistence docs promise, stated as such (no simulator model yet).

The real brokers run the drills that fit this machine in ``python -m labs decide`` (the labs
are a layer above the simulator); :class:`DecisionRecord` carries them in ``real_drills``.
The record is deterministic: the same file and seed give the same text (the date is a
parameter).

>>> from sim.course.decision.events_file import parse
>>> spec = parse({"events": [{"name": "PriceTick", "rate_per_s": 50, "downtime_s": 5,
...                           "max_loss_fraction": 0.01}]})
>>> rec = decide(spec, seed=0)
>>> rec.decisions[0].recommendation.tool
'pubsub'
>>> "## PriceTick → pubsub" in rec.markdown()
True
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sim.core.engine import run
from sim.course.decision.alerts import AlertRule, fires_at
from sim.course.decision.events_file import EventsFile, EventSpec
from sim.course.decision.recommend import (
    EventClass,
    Recommendation,
    _outage_start,
    recommend,
    scenario_for,
)
from sim.course.decision.settings import Setting, settings_for
from sim.course.decision.slo import SLO, SLOCheck
from sim.course.durability import RATE_RANGE_PER_S, simulate_durability

#: The reader of the recommendation's run that stands for each tool.
READERS = {"pubsub": "subscriber:0", "streams": "stream-group:0", "kafka": "group:0"}
#: Seconds of traffic a consumer may be behind before the backlog alert fires.
LAG_BUDGET_S = 30.0


@dataclass(frozen=True)
class Drill:
    """One fault on one configuration and what it cost; ``source`` says where the numbers
    come from (``simulator``, ``theory: ...`` or ``real: lab ...``)."""

    fault: str
    lost: float
    duplicated: float
    peak_lag: float
    catch_up_s: float
    source: str


@dataclass(frozen=True)
class Alert:
    """An alert rule and when it fired in the outage drill (NaN: it did not)."""

    rule: AlertRule
    fires_at_s: float


@dataclass(frozen=True)
class ClassDecision:
    """One event class decided: the recommendation, its configuration, SLO checks, alerts
    and drills."""

    spec: EventSpec
    recommendation: Recommendation
    settings: tuple[Setting, ...]
    slo: SLO
    slo_checks: tuple[SLOCheck, ...]
    alerts: tuple[Alert, ...]
    drills: tuple[Drill, ...]

    @property
    def tool(self) -> str:
        return self.recommendation.tool


@dataclass(frozen=True)
class DecisionRecord:
    """The whole record; :meth:`markdown` is the file the learner keeps."""

    title: str
    decisions: tuple[ClassDecision, ...]
    seed: int
    redis_persistence: str
    date: str = ""
    source: str = ""
    real_drills: tuple[tuple[str, Drill], ...] = ()

    def markdown(self) -> str:
        return _markdown(self)

    def section(self, name: str) -> str:
        """The Markdown of one event class's decision."""
        for d in self.decisions:
            if d.spec.event.name == name:
                return "\n".join(_class_markdown(d))
        raise KeyError(
            f"no event class {name!r}; classes: {[d.spec.event.name for d in self.decisions]}"
        )

    def drills_markdown(self) -> str:
        """The table of the drills on the real brokers ('' before they ran)."""
        return _drills_table(self.real_drills) if self.real_drills else ""

    def write(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.markdown(), encoding="utf-8")
        return p


def _reader(tool: str) -> str:
    return READERS["kafka" if tool == "hybrid" else tool]


def outage_start(ec: EventClass) -> float:
    """When the consumer outage of :func:`recommend`'s run starts (s)."""
    return _outage_start(ec)


def alert_rules(spec: EventSpec) -> tuple[AlertRule, ...]:
    """The lag alerts of a durable tool: a backlog over :data:`LAG_BUDGET_S` of traffic for a
    minute; the lag growing at half the publish rate for 10 s (the consumer stopped or
    slowed); the lag accelerating (an early warning, lesson 11)."""
    rate = spec.event.rate_per_s
    return (
        AlertRule("backlog", "lag", rate * LAG_BUDGET_S, for_s=60.0),
        AlertRule("lag growing", "lag_rate", 0.5 * rate, for_s=10.0),
        AlertRule("lag accelerating", "lag_accel", 0.1 * rate, for_s=1.0),
    )


def decide_class(
    spec: EventSpec, *, seed: int = 0, redis_persistence: str = "none"
) -> ClassDecision:
    """Decide one event class (see the module docstring)."""
    ec = spec.event
    rec = recommend(ec, seed=seed, redis_persistence=redis_persistence)
    tool = rec.tool
    reader = _reader(tool)
    durable = tool != "pubsub"
    backlog = ec.rate_per_s * ec.downtime_s
    slo = SLO(
        latency_p95_ms=ec.latency_p95_ms,
        max_loss_fraction=ec.max_loss_fraction,
        max_lag=max(1.1 * backlog, 1.0) if durable else math.inf,
    )
    n = rec.numbers["kafka" if tool == "hybrid" else tool]
    checks = (
        SLOCheck(
            "p95 latency, normal operation (ms)",
            slo.latency_p95_ms,
            p95 := normal_p95_ms(ec, reader, seed),
            bool(p95 <= slo.latency_p95_ms),
        ),
        SLOCheck(
            "loss per day (share)",
            slo.max_loss_fraction,
            n.loss_fraction,
            bool(n.loss_fraction <= slo.max_loss_fraction),
        ),
        SLOCheck(
            "peak lag in the outage (events)",
            slo.max_lag,
            n.peak_lag,
            bool(n.peak_lag <= slo.max_lag),
        ),
    )
    alerts = ()
    if durable:
        alerts = tuple(
            Alert(rule, fires_at(_scaled(rule, rec.scale), rec.result, reader))
            for rule in alert_rules(spec)
        )
    drills = [
        Drill(
            f"consumer away {ec.downtime_s:g} s", n.lost, 0.0, n.peak_lag, n.catch_up_s, "simulator"
        ),
    ]
    if tool in ("kafka", "hybrid"):
        drills.append(_failover_drill(spec, seed))
    if tool == "streams":
        drills.append(_redis_crash_drill(spec, redis_persistence))
    return ClassDecision(
        spec, rec, settings_for(spec, tool, redis_persistence), slo, checks, alerts, tuple(drills)
    )


def normal_p95_ms(ec: EventClass, reader: str, seed: int) -> float:
    """The reader's p95 latency in normal operation: the recommendation's scenario without
    its outage, for a tenth of its length (at least 10 s)."""
    scenario, _ = scenario_for(dataclasses.replace(ec, downtime_s=0.0))
    scenario["workload"]["duration_s"] = max(10.0, 0.1 * scenario["workload"]["duration_s"])
    return 1000.0 * run(scenario, seed=seed).report[reader].latency_p95_s


def _scaled(rule: AlertRule, scale: float) -> AlertRule:
    """A threshold in events of the real rate, applied to a run scaled down by ``scale``."""
    if scale == 1.0:
        return rule
    return AlertRule(rule.name, rule.signal, rule.threshold * scale, rule.for_s, rule.window_s)


def _failover_drill(spec: EventSpec, seed: int) -> Drill:
    ec = spec.event
    acks, isr = ("all", 2) if ec.critical else (1, 1)
    rate = min(max(ec.rate_per_s, RATE_RANGE_PER_S[0]), RATE_RANGE_PER_S[1])
    res = simulate_durability(
        acks=acks,
        schedule="frozen-followers",
        rate_per_s=rate,
        duration_s=10.0,
        seed=seed,
        min_insync_replicas=isr,
    )
    row = res.report["drain"]
    k = ec.rate_per_s / rate
    where = "simulator (lesson 13's cluster twin)"
    if k != 1.0:
        where += f", run at {rate:g}/s and scaled to {ec.rate_per_s:g}/s"
    return Drill(
        f"leader killed while its followers stall 1.5 s (acks={acks}, min.insync.replicas={isr})",
        row.lost * k,
        row.duplicated * k,
        float("nan"),
        float("nan"),
        where,
    )


def _redis_crash_drill(spec: EventSpec, persistence: str) -> Drill:
    ec = spec.event
    kept = persistence if not ec.critical or persistence.startswith("aof") else "aof_always"
    lost, how = {
        "none": (math.inf, "the whole stream (no persistence)"),
        "rdb": (math.inf, "everything after the last snapshot"),
        "aof_everysec": (
            ec.rate_per_s * 1.0,
            "up to ~1 s of writes on a power loss (none on a process kill)",
        ),
        "aof_always": (0.0, "no acknowledged write"),
    }[kept]
    return Drill(
        f"Redis crash with {kept}: {how}",
        lost,
        0.0,
        float("nan"),
        float("nan"),
        "theory: Redis persistence docs",
    )


def decide(
    events: EventsFile, *, seed: int = 0, date: str = "", with_real: Sequence = ()
) -> DecisionRecord:
    """Decide every event class of ``events`` (see the module docstring)."""
    decisions = tuple(
        decide_class(s, seed=seed, redis_persistence=events.redis_persistence)
        for s in events.events
    )
    return DecisionRecord(
        events.title,
        decisions,
        seed,
        events.redis_persistence,
        date,
        events.source,
        tuple(with_real),
    )


# ------------------------------------------------------------------------------ Markdown
def _num(v: float, inf: str = "all") -> str:
    if isinstance(v, float) and math.isnan(v):
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return inf
    return f"{v:,.0f}" if abs(v) >= 10 or v == 0 else f"{v:.2g}"


def _markdown(r: DecisionRecord) -> str:
    out = [f"# Decision record: {r.title}", ""]
    made = f"Made by the event-delivery course's simulator (seed {r.seed})"
    if r.source:
        made += f" from `{r.source}`"
    out += [
        f"{made}{', ' + r.date if r.date else ''}. Redis persistence assumed: "
        f"`{r.redis_persistence}`.",
        "",
    ]
    out += [
        "| event class | tool | rate/s | critical | replay | order | fan-out | p95 SLO (ms) |",
        "|---|---|---:|---|---|---|---:|---:|",
    ]
    for d in r.decisions:
        e = d.spec.event
        out.append(
            f"| {e.name} | **{d.tool}** | {e.rate_per_s:g} | {'yes' if e.critical else 'no'} | "
            f"{'yes' if e.needs_replay else 'no'} | {e.ordering} | {e.fan_out} | "
            f"{e.latency_p95_ms:g} |"
        )
    for d in r.decisions:
        out += ["", *_class_markdown(d)]
    if r.real_drills:
        out += ["", "## Drills on the real brokers", "", _drills_table(r.real_drills)]
    out += [
        "",
        "Each number's source is in its row: the simulator for the rates, outages and "
        "settings above, the Redis docs' promise for a Redis crash, a lab run on this "
        "machine's brokers for the real drills. Re-run the drills after any "
        "change of rate, outage or configuration.",
        "",
    ]
    return "\n".join(out)


def _drills_table(rows: Sequence[tuple[str, Drill]]) -> str:
    out = [
        "| event class | fault | lost | duplicated | peak lag | catch-up (s) | source |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for name, dr in rows:
        out.append(
            f"| {name} | {dr.fault} | {_num(dr.lost)} | {_num(dr.duplicated)} | "
            f"{_num(dr.peak_lag)} | {_num(dr.catch_up_s)} | {dr.source} |"
        )
    return "\n".join(out)


def _class_markdown(d: ClassDecision) -> list[str]:
    e = d.spec.event
    out = [f"## {e.name} → {d.tool}", "", "### Why", ""]
    out += [f"- {why}" for why in d.recommendation.reasons]
    out += ["", "### Configuration", "", "| where | setting | value | why |", "|---|---|---|---|"]
    out += [f"| {s.scope} | `{s.name}` | `{s.value}` | {s.why} |" for s in d.settings]
    out += [
        "",
        "### SLOs and alerts",
        "",
        "| objective | target | simulated | met |",
        "|---|---:|---:|---|",
    ]
    out += [
        f"| {c.objective} | {_num(c.target, 'no limit')} | {_num(c.actual)} | "
        f"{'yes' if c.met else '**no**'} |"
        for c in d.slo_checks
    ]
    out.append("")
    if d.alerts:
        out += ["| alert | rule | fires in the outage drill |", "|---|---|---|"]
        for a in d.alerts:
            rule = f"{a.rule.signal} >= {_num(a.rule.threshold)} for {a.rule.for_s:g} s"
            when = "no" if math.isnan(a.fires_at_s) else f"at {a.fires_at_s:.1f} s"
            out.append(f"| {a.rule.name} | `{rule}` | {when} |")
    elif d.tool == "pubsub":
        out.append(
            "- no backlog to alert on: alert on subscriber disconnections "
            "(`INFO clients`, `pubsub_clients`) and on the publisher's receiver count"
        )
    out += [
        "",
        "### Failure drill",
        "",
        "| fault | lost | duplicated | peak lag | catch-up (s) | source |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for dr in d.drills:
        out.append(
            f"| {dr.fault} | {_num(dr.lost)} | {_num(dr.duplicated)} | {_num(dr.peak_lag)} | "
            f"{_num(dr.catch_up_s)} | {dr.source} |"
        )
    return out

"""Service-level objectives: p95 latency, loss and lag of one reader, met or not.

:class:`SLO` and :func:`check_slo` compare a reader of any
:class:`~sim.analysis.result.Result` (simulator or lab) with its objectives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.analysis.result import Result


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

"""The result of one run, from the simulator or from a lab on real brokers.

Both halves of the course return this record, so a notebook can put a simulation and its
real-broker twin side by side: the same history arrays, the same checker report, the same
named time series and scalar metrics, plus the settings that decided the outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from sim.analysis.checker import CheckReport, check
from sim.core.history import History


def _frozen(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Series:
    """A named time series: ``t`` in seconds and ``value`` (e.g. lag in messages)."""

    name: str
    t: np.ndarray
    value: np.ndarray
    unit: str = ""

    def __post_init__(self) -> None:
        for name in ("t", "value"):
            arr = np.ascontiguousarray(getattr(self, name), dtype=float)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if self.t.shape != self.value.shape:
            raise ValueError(f'series {self.name!r}: "t" and "value" must have the same length.')


@dataclass(frozen=True)
class Result:
    """One run: where it ran (``source``: "simulator" or "redis+kafka"...), its parameters and
    seed, the settings that decide the outcome, the history, the checker's report, named time
    series (lag per group/partition, ...) and scalar metrics (catch-up time, skew, ...)."""

    name: str
    source: str
    seed: int | None
    params: Mapping[str, Any]
    settings: Mapping[str, Any]
    history: History
    report: CheckReport
    series: Mapping[str, Series] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("params", "settings", "series", "metrics"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @classmethod
    def from_history(cls, name: str, source: str, history: History, **kwargs: Any) -> Result:
        """Build a result, running the checker on ``history``."""
        return cls(name=name, source=source, history=history, report=check(history), **kwargs)

    def summary(self) -> str:
        """The checker table plus the settings and metrics, as printed by the CLIs."""
        lines = [f"{self.name} ({self.source}, seed={self.seed})", "", self.report.table()]
        if self.settings:
            lines += ["", "settings:"] + [f"  {k} = {v}" for k, v in self.settings.items()]
        if self.metrics:
            lines += ["", "metrics:"] + [f"  {k} = {_fmt(v)}" for k, v in self.metrics.items()]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (no per-message arrays)."""
        return {
            "name": self.name,
            "source": self.source,
            "seed": self.seed,
            "params": dict(self.params),
            "settings": {k: _jsonable(v) for k, v in self.settings.items()},
            "report": [{k: _jsonable(v) for k, v in row.items()} for row in self.report.as_dicts()],
            "metrics": {k: _jsonable(v) for k, v in self.metrics.items()},
        }


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def _rebuild(kwargs: dict[str, Any]) -> Result:
    return Result(**kwargs)


def _reduce(self: Result):
    """Pickle support (results cross process boundaries in sweeps)."""
    return (
        _rebuild,
        (
            {
                "name": self.name,
                "source": self.source,
                "seed": self.seed,
                "params": dict(self.params),
                "settings": dict(self.settings),
                "history": self.history,
                "report": self.report,
                "series": dict(self.series),
                "metrics": dict(self.metrics),
            },
        ),
    )


Result.__reduce__ = _reduce  # type: ignore[method-assign]

"""A twin's verdict: theory, simulator and real broker side by side, with tolerances.

A :class:`TwinResult` is an immutable record of one twin run: the parameters, the
calibration measured on the real brokers, the real lab's :class:`~sim.analysis.result.Result`, the
simulator's :class:`~sim.analysis.result.Result` and one :class:`Row` per compared metric -- theory,
simulator, real broker, their difference (real minus simulator), the tolerance and whether
they agree. ``table()`` prints it; ``_repr_html_`` shows it in a notebook.

A row agrees when ``|real - simulator|`` is within its tolerance (absolute, or relative to
the simulator's value for ``relative`` rows) and, for rows with a ``theory_tolerance``, when
both the simulator and the real broker are within that distance of the theory value.

>>> r = Row("lost", theory=0, simulator=0, real=0, tolerance=0)
>>> r.agrees, r.difference
(True, 0.0)
>>> Row("peak lag", None, 100.0, 112.0, tolerance=0.15, relative=True).agrees
True
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from labs.twins.calibrate import Calibration
from sim.analysis.result import Result


@dataclass(frozen=True)
class Row:
    """One compared metric. ``tolerance`` bounds ``|real - simulator|`` (a fraction of the
    simulator's value when ``relative``); ``theory_tolerance`` (absolute) bounds each of them
    against ``theory``. Rows with ``tolerance=None`` are shown for information only."""

    metric: str
    theory: float | None
    simulator: float
    real: float
    tolerance: float | None = 0.0
    relative: bool = False
    theory_tolerance: float | None = None

    @property
    def difference(self) -> float:
        """Real broker minus simulator."""
        return float(self.real) - float(self.simulator)

    @property
    def agrees(self) -> bool:
        if self.tolerance is None:
            return True
        sim, real = float(self.simulator), float(self.real)
        if math.isnan(sim) or math.isnan(real):
            return False
        bound = self.tolerance * abs(sim) if self.relative else self.tolerance
        ok = abs(real - sim) <= bound + 1e-9
        if self.theory_tolerance is not None and self.theory is not None:
            ok &= abs(sim - self.theory) <= self.theory_tolerance + 1e-9
            ok &= abs(real - self.theory) <= self.theory_tolerance + 1e-9
        return bool(ok)

    def tolerance_text(self) -> str:
        if self.tolerance is None:
            return "(info)"
        text = (
            f"±{self.tolerance:.0%}"
            if self.relative
            else ("exact" if self.tolerance == 0 else f"±{self.tolerance:g}")
        )
        if self.theory_tolerance is not None:
            text += f"; ±{self.theory_tolerance:g} of theory"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "theory": _num(self.theory),
            "simulator": _num(self.simulator),
            "real": _num(self.real),
            "difference": _num(self.difference),
            "tolerance": self.tolerance_text(),
            "agrees": self.agrees,
        }


@dataclass(frozen=True)
class TwinResult:
    """One twin run (see the module docstring)."""

    name: str
    params: Mapping[str, Any]
    calibration: Calibration
    real: Result
    simulator: Result
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        object.__setattr__(self, "rows", tuple(self.rows))
        object.__setattr__(self, "notes", tuple(self.notes))

    @property
    def agrees(self) -> bool:
        """True when every row agrees within its tolerance."""
        return all(r.agrees for r in self.rows)

    def row(self, metric: str) -> Row:
        for r in self.rows:
            if r.metric == metric:
                return r
        raise KeyError(f"no row {metric!r}; rows are {[r.metric for r in self.rows]}")

    def __getitem__(self, metric: str) -> Row:
        return self.row(metric)

    def disagreements(self) -> list[Row]:
        return [r for r in self.rows if not r.agrees]

    def table(self) -> str:
        """The comparison as fixed-width text, with the verdict and the calibration."""
        head = ("metric", "theory", "simulator", "real broker", "difference", "tolerance", "")
        body = [
            (
                r.metric,
                _fmt(r.theory),
                _fmt(r.simulator),
                _fmt(r.real),
                _fmt(r.difference, signed=True),
                r.tolerance_text(),
                "ok" if r.agrees else "DIFFERS",
            )
            for r in self.rows
        ]
        widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
        lines = [
            "  ".join(
                x.ljust(w) if i in (0, 5, 6) else x.rjust(w)
                for i, (x, w) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
            for line in (head, *body)
        ]
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        verdict = (
            "simulator and real broker AGREE within tolerance"
            if self.agrees
            else "simulator and real broker DISAGREE on: "
            + ", ".join(r.metric for r in self.disagreements())
        )
        out = [
            f"twin {self.name} ({params})",
            "",
            *lines,
            "",
            verdict,
            "",
            self.calibration.table(),
        ]
        if self.notes:
            out += ["", *self.notes]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table()

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        """A notebook's plain-text form is the table, not the dataclass's field dump (which
        prints the histories' arrays)."""
        printer.text(self.table())

    def _repr_html_(self) -> str:
        cells = "".join(
            "<tr>"
            + "".join(
                f"<td style='text-align:{'left' if i in (0, 5) else 'right'}'>{html.escape(x)}</td>"
                for i, x in enumerate(
                    (
                        r.metric,
                        _fmt(r.theory),
                        _fmt(r.simulator),
                        _fmt(r.real),
                        _fmt(r.difference, signed=True),
                        r.tolerance_text(),
                    )
                )
            )
            + f"<td>{'✅' if r.agrees else '❌'}</td></tr>"
            for r in self.rows
        )
        head = "".join(
            f"<th>{h}</th>"
            for h in ("metric", "theory", "simulator", "real broker", "difference", "tolerance", "")
        )
        verdict = "agree" if self.agrees else "disagree"
        cal = "".join(
            f"<li><code>{k}</code> = {getattr(self.calibration, k):.3f} — {html.escape(v)}</li>"
            for k, v in self.calibration.describe_fields()
        )
        params = html.escape(", ".join(f"{k}={v}" for k, v in self.params.items()))
        notes = "".join(f"<p><small>{html.escape(n)}</small></p>" for n in self.notes)
        return (
            f"<p><b>twin {html.escape(self.name)}</b> ({params}): simulator and real broker "
            f"<b>{verdict}</b></p><table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody>"
            f"</table>{notes}<details><summary>calibration (measured at "
            f"{html.escape(self.calibration.measured_at)})</summary><ul>{cal}</ul></details>"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: parameters, calibration, rows, verdict, both results."""
        return {
            "twin": self.name,
            "params": dict(self.params),
            "agrees": self.agrees,
            "rows": [r.as_dict() for r in self.rows],
            "calibration": {k: _num(v) for k, v in self.calibration.as_dict().items()},
            "notes": list(self.notes),
            "real": self.real.to_dict(),
            "simulator": self.simulator.to_dict(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=_num)


def _num(v: Any) -> Any:
    if v is None or isinstance(v, (str, bool)):
        return v
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(f) or math.isinf(f):
        return None
    return int(f) if f.is_integer() and abs(f) < 2**53 else f


def _fmt(v: float | None, *, signed: bool = False) -> str:
    if v is None:
        return "-"
    f = float(v)
    if math.isnan(f):
        return "-"
    if f.is_integer() and abs(f) < 1e9:
        return f"{int(f):+d}" if signed else str(int(f))
    return f"{f:+.4g}" if signed else f"{f:.4g}"

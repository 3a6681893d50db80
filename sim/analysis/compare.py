"""Side by side: the checker's rows and key metrics of several results in one table.

A lesson runs the same experiment in the simulator and on real brokers and wants the
numbers next to each other. :func:`side_by_side` takes any number of
:class:`~sim.analysis.result.Result` objects (simulator or lab, they are the same type) and returns
a :class:`Table` -- one row per (result, reader) with the checker's columns -- plus, when
asked, a second table of metrics with one column per result and an optional *theory*
column. Tables print as fixed-width text (stable for a seeded run, so a notebook can
check the output) and render as HTML in Jupyter.

>>> import sim
>>> r = sim.run({"workload": {"rate_per_s": 100, "duration_s": 10},
...              "consumers": {"subscribers": 1},
...              "faults": [["subscriber_down", "subscriber:0", 2, 3]]}, seed=1)
>>> t = side_by_side(r, columns=("acknowledged", "lost"))
>>> t.value("simulator", "subscriber:0", "lost") == str(r.report["subscriber:0"].lost)
True
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sim.analysis.checker import CheckRow
from sim.analysis.result import Result

#: Default checker columns shown by :func:`side_by_side`.
COLUMNS = (
    "acknowledged",
    "processed",
    "lost",
    "unseen",
    "duplicated",
    "reordered",
    "loss %",
    "p50 ms",
    "p99 ms",
)

_DERIVED: dict[str, Callable[[CheckRow], float]] = {
    "loss %": lambda r: 100.0 * r.loss_fraction,
    "p50 ms": lambda r: 1000.0 * r.latency_p50_s,
    "p95 ms": lambda r: 1000.0 * r.latency_p95_s,
    "p99 ms": lambda r: 1000.0 * r.latency_p99_s,
}

#: A metric row: a metric name (same in every result), one name per result, or a function.
MetricSpec = str | Sequence[str | None] | Callable[[Result], Any]


def fmt(v: Any) -> str:
    """A value as the tables print it: integers plainly, floats to 4 significant digits."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e15):
        return str(int(v))
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:.4g}"
    return str(v)


@dataclass(frozen=True)
class Table:
    """A small table of strings: prints as fixed-width text, renders as HTML in Jupyter."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str = ""
    below: Table | None = None

    def value(self, *labels_and_column: str) -> str:
        """The cell in the row whose leading cells are ``labels`` and the given column."""
        *labels, column = labels_and_column
        col = self.header.index(column)
        for row in self.rows:
            if list(row[: len(labels)]) == labels:
                return row[col]
        starts = [r[: len(labels)] for r in self.rows]
        raise KeyError(f"no row {labels!r}; rows start with {starts}")

    def text(self) -> str:
        widths = [max(len(x) for x in col) for col in zip(self.header, *self.rows, strict=True)]
        lines = [self.title] if self.title else []
        for line in (self.header, *self.rows):
            cells = [
                x.ljust(w) if i < self._labels() else x.rjust(w)
                for i, (x, w) in enumerate(zip(line, widths, strict=True))
            ]
            lines.append("  ".join(cells).rstrip())
        out = "\n".join(lines)
        return out + ("\n\n" + self.below.text() if self.below is not None else "")

    def _labels(self) -> int:
        return 1 if self.header and self.header[0] == "metric" else 2

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        e = html.escape
        n = self._labels()
        head = "".join(f"<th>{e(h)}</th>" for h in self.header)
        body = "".join(
            "<tr>"
            + "".join(
                f'<td style="text-align:{"left" if i < n else "right"}">{e(x)}</td>'
                for i, x in enumerate(row)
            )
            + "</tr>"
            for row in self.rows
        )
        cap = f"<caption>{e(self.title)}</caption>" if self.title else ""
        out = f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        return out + (self.below._repr_html_() if self.below is not None else "")


def side_by_side(
    *results: Result,
    readers: Sequence[str] | Sequence[Sequence[str]] | None = None,
    columns: Sequence[str] = COLUMNS,
    metrics: Mapping[str, MetricSpec] | Sequence[str] | None = None,
    theory: Mapping[str, Any] | None = None,
    labels: Sequence[str] | None = None,
    title: str = "",
) -> Table:
    """The checker rows of ``results`` one under the other, and their metrics side by side.

    ``readers``: the reader names to show (default: every reader except dead-letter
    readers), either one list for all results or one list per result. ``columns``: checker
    columns (``acknowledged``, ``lost``, ...), ``loss %`` or ``p50 ms``/``p95 ms``/``p99 ms``.
    ``metrics``: rows of the metrics table -- a list of metric names, or a mapping from a
    row label to a metric name, to one name per result (``None`` where a result has no
    such metric), or to a function of the result. ``theory``: expected values by row label,
    shown in a last column. ``labels``: one name per result (default: each result's
    ``source``, numbered if two are the same).
    """
    if not results:
        raise ValueError('"results" must name at least one Result.')
    bad = [c for c in columns if c not in _DERIVED and c not in CheckRow.__dataclass_fields__]
    if bad:
        allowed = [*CheckRow.__dataclass_fields__, *_DERIVED]
        raise ValueError(f'"columns": unknown column(s) {bad}; allowed: {allowed}.')
    names = _labels(results, labels)
    per_result = _readers(results, readers)
    rows = []
    for name, res, wanted in zip(names, results, per_result, strict=True):
        for row in res.report.rows:
            if (wanted is None and not row.reader.startswith("dlq:")) or (
                wanted is not None and row.reader in wanted
            ):
                rows.append((name, row.reader, *(fmt(_column(row, c)) for c in columns)))
    table = Table(("run", "reader", *columns), tuple(rows), title)
    if metrics:
        table = Table(table.header, table.rows, title, _metrics(results, names, metrics, theory))
    return table


def _labels(results: Sequence[Result], labels: Sequence[str] | None) -> list[str]:
    if labels is not None:
        if len(labels) != len(results):
            raise ValueError(f'"labels" must have one entry per result ({len(results)}).')
        return [str(x) for x in labels]
    sources = [r.source for r in results]
    return [
        s if sources.count(s) == 1 else f"{s} #{sources[: i + 1].count(s)}"
        for i, s in enumerate(sources)
    ]


def _readers(results, readers) -> list[set[str] | None]:
    if readers is None:
        return [None] * len(results)
    if all(isinstance(x, str) for x in readers):
        return [set(readers)] * len(results)
    if len(readers) != len(results):
        raise ValueError('"readers" must be one list of names, or one list per result.')
    return [set(x) for x in readers]


def _column(row: CheckRow, column: str) -> Any:
    return _DERIVED[column](row) if column in _DERIVED else getattr(row, column)


def _metrics(results, names, metrics, theory) -> Table:
    if not isinstance(metrics, Mapping):
        metrics = {m: m for m in metrics}
    rows = []
    for label, spec in metrics.items():
        cells = [fmt(_metric(res, spec, i)) for i, res in enumerate(results)]
        if theory is not None:
            cells.append(fmt(theory.get(label)))
        rows.append((label, *cells))
    header = ("metric", *names, *(("theory",) if theory is not None else ()))
    return Table(header, tuple(rows))


def _metric(res: Result, spec: MetricSpec, i: int) -> Any:
    if callable(spec):
        return spec(res)
    name = spec if isinstance(spec, str) else spec[i]
    if name is None:
        return None
    return res.metrics.get(name)

"""Plots: functions that take a :class:`~sim.analysis.result.Result` and return a Figure.

Every figure follows the house style (:mod:`sim.analysis.style`): a title that names the
interesting item (the reader that lost most, the hot partition), labelled axes with units,
at most eight legend entries (more series are grouped: the hot one named, the others grey)
and legends outside the data. They use matplotlib's object-oriented API (``Figure``
objects, no pyplot state), so library code never touches a global figure and a notebook
can show, save or compose them as it likes. They work on simulator and lab results alike.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sim.analysis.metrics import partition_counts
from sim.analysis.result import Result
from sim.analysis.style import HOT, OTHERS, figure, highlight, legend_outside
from sim.core.history import OK
from sim.models.dlq import dead_letter_fraction

#: Points drawn per row of a timeline at most: at 100 dpi a 10-inch row is 1000 pixels, so
#: five points a pixel column look the same as every point and draw faster.
_MAX_POINTS = 5_000


def _thin(x: np.ndarray, limit: int = _MAX_POINTS) -> np.ndarray:
    """Indices of at most ``limit`` evenly spread points of ``x``."""
    if x.size <= limit:
        return np.arange(x.size)
    return np.linspace(0, x.size - 1, limit).astype(np.int64)


def _primary(result: Result) -> list:
    return [r for r in result.history.readers if not r.name.startswith("dlq:")]


def timeline(result: Result, readers: list[str] | None = None, by: str = "reader") -> Figure:
    """Message timeline with losses marked.

    ``by="reader"``: one row per reader (subscriber, group...), processed messages as dots
    at their completion time, lost ones as red crosses at their publish time.
    ``by="partition"``: one row per partition, for the first group (or the reader named
    in ``readers``), showing which partitions stalled and what they lost.
    """
    if by not in ("reader", "partition"):
        raise ValueError(f'"by" must be "reader" or "partition", got {by!r}.')
    h = result.history
    rows = [r for r in _primary(result) if readers is None or r.name in readers]
    if by == "partition":
        rows = [r for r in rows if r.name.startswith("group:")][:1]
        n_rows = int(h.partition.max()) + 1 if h.messages and h.partition.max() >= 0 else 0
    else:
        n_rows = len(rows)
    fig, axes = figure("timeline", (10, 1.0 + 0.5 * max(n_rows, 1)))
    ax = axes[0, 0]
    acked = h.outcome == OK
    lost_label = done_label = False
    lost_by: dict[str, int] = {}
    for y, r in enumerate(rows):
        idx = _thin(r.times)
        ys = h.partition[r.ids[idx]] if by == "partition" else np.full(idx.size, y)
        ax.scatter(
            r.times[idx], ys, s=2, color="tab:blue", label=None if done_label else "processed"
        )
        done_label = True
        exp = acked if r.expected is None else (r.expected & acked)
        seen = np.zeros(h.messages, bool)
        seen[r.ids] = True
        avail = np.zeros(h.messages, bool) if r.available is None else r.available
        lost = np.flatnonzero(exp & ~seen & ~avail)
        if by == "partition":
            for k, c in enumerate(np.bincount(h.partition[lost], minlength=max(n_rows, 1))):
                lost_by[f"p{k}"] = int(c)
        else:
            lost_by[r.name] = int(lost.size)
        if lost.size:
            li = lost[_thin(lost)]
            ly = h.partition[li] if by == "partition" else np.full(li.size, y)
            ax.scatter(
                h.publish_time[li],
                ly + 0.25,
                s=8,
                marker="x",
                color="tab:red",
                label=None if lost_label else "lost (at publish time)",
            )
            lost_label = True
    worst = max(lost_by, key=lost_by.__getitem__, default=None)
    if worst is not None and lost_by[worst]:
        note = f": {worst} lost most ({lost_by[worst]})"
    else:
        note = ": nothing lost"
    if by == "partition":
        ax.set_yticks(range(n_rows), [f"p{k}" for k in range(n_rows)])
        ax.set_ylabel("partition")
        who = f" ({rows[0].name})" if rows else ""
        ax.set_title(f"Message timeline by partition - {result.name}{who}{note}")
    else:
        ax.set_yticks(range(n_rows), [r.name for r in rows])
        ax.set_ylabel("reader")
        ax.set_title(f"Message timeline - {result.name}{note}")
    ax.set_ylim(-0.6, max(n_rows, 1) - 0.4)
    ax.set_xlabel("time (s)")
    if done_label or lost_label:
        legend_outside(ax, markerscale=3)
    return fig


def lag(result: Result, partitions: bool = False) -> Figure:
    """Consumer lag over time, per group (or per partition of each group). The series with
    the highest peak is named in the title; beyond eight series it is drawn in red and
    the others in grey under one legend entry."""
    fig, axes = figure("lag", (9, 4))
    ax = axes[0, 0]
    if partitions:
        names = [n for n in result.series if n.startswith("lag:") and n.count(":") == 3]
    else:
        names = [n for n in result.series if n.startswith("lag:") and n.count(":") == 2]
    peaks = {n: float(np.max(result.series[n].value, initial=0.0)) for n in names}
    hot = max(peaks, key=peaks.__getitem__, default=None)
    styles = highlight([n.removeprefix("lag:") for n in names], hot and hot.removeprefix("lag:"))
    for n in names:
        s = result.series[n]
        ax.step(s.t, s.value, where="post", **styles[n.removeprefix("lag:")])
    ax.set_xlabel("time (s)")
    ax.set_ylabel("lag (messages)")
    title = f"Consumer lag - {result.name}"
    if hot is not None and len(names) > 1:
        title += f": highest {hot.removeprefix('lag:')} (peak {peaks[hot]:.0f})"
    ax.set_title(title)
    if len(names) > 1:
        legend_outside(ax, fontsize="small")
    return fig


def partition_load(result: Result) -> Figure:
    """Messages per partition, with the mean and the skew (max/mean)."""
    counts = partition_counts(result.history)
    fig, axes = figure("partition_load", (9, 4))
    ax = axes[0, 0]
    x = np.arange(counts.size)
    if counts.size:
        hot = int(np.argmax(counts))
        colors = [HOT if k == hot else "tab:blue" for k in x]
        ax.bar(x, counts, color=colors)
        mean = ax.axhline(counts.mean(), color=OTHERS, linestyle="--", label="mean")
        sk = counts.max() / counts.mean() if counts.mean() else float("nan")
        ax.set_title(f"Partition load - {result.name}: p{hot} hottest (skew max/mean = {sk:.2f})")
        handles = [
            Patch(color="tab:blue", label="messages"),
            Patch(color=HOT, label=f"messages, hottest (p{hot})"),
            mean,
        ]
        legend_outside(ax, handles=handles)
    else:
        ax.set_title(f"Partition load - {result.name} (no partitions)")
    ax.set_xticks(x, [str(k) for k in x], fontsize="small" if counts.size > 12 else None)
    ax.set_xlabel("partition")
    ax.set_ylabel("messages (count)")
    return fig


def latency_cdf(result: Result) -> Figure:
    """Empirical CDF of end-to-end latency (publish to first completion) per reader."""
    h = result.history
    fig, axes = figure("latency_cdf", (8, 4))
    ax = axes[0, 0]
    curves = {}
    for r in _primary(result):
        ids, first = np.unique(r.ids, return_index=True)
        lat = np.sort(r.times[first] - h.publish_time[ids]) * 1000.0
        if lat.size:
            curves[r.name] = lat
    p99 = {n: float(np.quantile(lat, 0.99)) for n, lat in curves.items()}
    slowest = max(p99, key=p99.__getitem__, default=None)
    styles = highlight(list(curves), slowest)
    for name, lat in curves.items():
        idx = _thin(lat, 5000)
        ax.plot(lat[idx], (idx + 1) / lat.size, **styles[name])
    ax.set_xscale("log")
    ax.set_xlabel("end-to-end latency (ms, log scale)")
    ax.set_ylabel("fraction of messages")
    title = f"Latency CDF - {result.name}"
    if slowest is not None and len(curves) > 1:
        title += f": slowest {slowest} (p99 {p99[slowest]:.3g} ms)"
    ax.set_title(title)
    if len(curves) > 1:
        legend_outside(ax, fontsize="small")
    return fig


def comparison(result: Result) -> Figure:
    """Pub/Sub vs log side by side: loss and duplicates per reader, and latency."""
    rows = [r for r in result.report.rows if not r.reader.startswith("dlq:")]
    fig, axes = figure("comparison", (11, 4), 1, 2)
    ax1, ax2 = axes[0]
    x = np.arange(len(rows))
    names = [r.reader for r in rows]
    ack = np.array([max(r.acknowledged, 1) for r in rows], float)
    ax1.bar(x - 0.2, [100 * r.lost for r in rows] / ack, 0.4, label="lost", color="tab:red")
    ax1.bar(
        x + 0.2,
        [100 * r.duplicated for r in rows] / ack,
        0.4,
        label="duplicated",
        color="tab:orange",
    )
    ax1.set_xticks(x, names, rotation=30, ha="right")
    ax1.set_ylabel("share of acknowledged messages (%)")
    ax1.set_xlabel("reader")
    ax1.set_title("Loss and duplicates")
    legend_outside(ax1)
    for k, (attr, lab) in enumerate(
        (("latency_p50_s", "p50"), ("latency_p95_s", "p95"), ("latency_p99_s", "p99"))
    ):
        ax2.bar(x + (k - 1) * 0.27, [1000 * getattr(r, attr) for r in rows], 0.27, label=lab)
    ax2.set_yscale("log")
    ax2.set_xticks(x, names, rotation=30, ha="right")
    ax2.set_ylabel("end-to-end latency (ms, log scale)")
    ax2.set_xlabel("reader")
    ax2.set_title("Latency percentiles")
    legend_outside(ax2)
    share = {r.reader: r.lost / max(r.acknowledged, 1) for r in rows}
    worst = max(share, key=share.__getitem__, default=None)
    if worst is not None and share[worst] > 0:
        note = f": {worst} lost most ({share[worst]:.1%})"
    else:
        note = ": nothing lost"
    fig.suptitle(f"Pub/Sub vs log - {result.name}{note}")
    return fig


#: Every figure function, by name (the CLI saves them all).
FIGURES = {
    "timeline": timeline,
    "timeline_partitions": lambda result: timeline(result, by="partition"),
    "lag": lag,
    "partition_load": partition_load,
    "latency_cdf": latency_cdf,
    "comparison": comparison,
}


def dead_letters(results: list[Result]) -> Figure:
    """Dead-lettered share of records against the failure probability per delivery, for
    runs of one Redis Streams group differing only in ``failure_probability``: simulated
    points and the theory ``q + (1 - q) p**N`` (``q`` the poison share, the floor)."""
    groups = [r.params["consumers"]["stream_groups"][0] for r in results]
    deliveries = int(groups[0]["max_deliveries"]) if groups else 1
    poison = float(results[0].params["workload"]["poison_fraction"]) if results else 0.0
    p = np.array([g["failure_probability"] for g in groups], float)
    share = np.array([r.metrics.get("dlq", 0.0) / len(r.history.keys) for r in results])
    fig, axes = figure("dead_letters", (8, 4))
    ax = axes[0, 0]
    grid = np.linspace(0.0, max(float(p.max()) if p.size else 0.9, 0.9), 91)
    theory = [dead_letter_fraction(float(x), deliveries, poison) for x in grid]
    ax.plot(grid, theory, color="tab:blue", label=f"theory q + (1 - q) p^{deliveries}")
    ax.plot(p, share, "o", color=HOT, label="simulator")
    ax.axhline(poison, color=OTHERS, linestyle="--", label=f"poison floor q = {poison:.0%}")
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel("failure probability per delivery p (fraction)")
    ax.set_ylabel("dead-lettered (fraction of records)")
    ax.set_title(f"Dead letters after N = {deliveries} deliveries: poison stays, retries fix p")
    legend_outside(ax)
    return fig

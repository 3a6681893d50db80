"""Figures of the throughput lab and its twin (lesson 19), in the course's house style.

- :func:`latency_curves` -- latency (a percentile) against the offered rate, log-log, one
  line per configuration; points that did not deliver their rate hollow; the SLO as a
  dashed line; the title names the configuration that sustains the most.
- :func:`cpu_per_message` -- the process's CPU per message against the rate: the client
  library's share of the cost, and how batching spreads it.
- :func:`twin_curves` -- the throughput twin: the real sweeps' medians next to the
  simulator's p50 and p99, one panel per configuration.
- :func:`sustainable_rate` -- the highest rate of a sweep that delivered its rate with p99
  within an SLO (what the exercise asks for).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from labs.throughput_result import Point, ThroughputResult
from labs.twins.result import TwinResult
from labs.twins.throughput import CAL_POINTS, delivered
from sim.analysis import style

PERCENTILE_LABELS = {"p50_ms": "p50", "p95_ms": "p95", "p99_ms": "p99", "p999_ms": "p99.9"}
#: The producer's side: when the broker acknowledged each message (from its intended time).
ACK_LABELS = {"ack_p50_ms": "acknowledgement p50", "ack_p99_ms": "acknowledgement p99"}


def sustainable_rate(points: Sequence[Point], slo_p99_ms: float) -> float:
    """The highest target rate among ``points`` that was delivered with p99 <= ``slo_p99_ms``
    below every rate that was not (0 if the lowest already failed)."""
    best = 0.0
    for p in sorted(points, key=lambda p: p.target_rate_per_s):
        if not (delivered(p) and p.p99_ms <= slo_p99_ms):
            break
        best = p.target_rate_per_s
    return best


def _against_rate(ax, ylabel: str, title: str) -> None:
    """Log-log axes of something against the offered rate, with a small title; the rates
    labelled 1-2-5 as plain numbers (a sweep spans one or two decades, where matplotlib's
    own minor labels overlap)."""
    ax.set(xscale="log", yscale="log", xlabel="offered rate (msg/s)", ylabel=ylabel, title=title)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.title.set_fontsize(9)


def _configs(result: ThroughputResult) -> list[str]:
    return [c.config for c in result.curves]


def latency_curves(
    result: ThroughputResult, percentile: str = "p99_ms", *, slo_ms: float | None = None
) -> Figure:
    """``percentile`` against the offered rate for every configuration of ``result``."""
    labels = PERCENTILE_LABELS | ACK_LABELS
    if percentile not in labels:
        raise ValueError(f'"percentile" must be one of {list(labels)}, got {percentile!r}.')
    slo = float(result.params["slo_p99_ms"] if slo_ms is None else slo_ms)
    names = _configs(result)
    fig, axes = style.figure("throughput-latency", (9.5, 4.2))
    ax = axes[0, 0]
    looks = style.highlight(names, None)
    best, best_rate = None, -1.0
    for name in names:
        pts = result.points_of(name)
        x = np.array([p.target_rate_per_s for p in pts])
        y = np.array([getattr(p, percentile) for p in pts], float)
        y = np.where(np.isfinite(y), y, np.nan)
        ok = np.array([delivered(p) for p in pts])
        look = looks[name]
        ax.plot(x, y, "-", color=look["color"], label=look["label"], marker="o", markersize=4)
        if (~ok).any():
            ax.plot(x[~ok], y[~ok], "o", color="white", markeredgecolor=look["color"], zorder=3)
        rate = sustainable_rate(pts, slo)
        if rate > best_rate:
            best, best_rate = name, rate
    ax.axhline(slo, color="0.3", linestyle="--", linewidth=1, label=f"SLO p99 <= {slo:g} ms")
    _against_rate(
        ax,
        f"{labels[percentile]} from intended send (ms)"
        if percentile in ACK_LABELS
        else f"{labels[percentile]} latency from intended send (ms)",
        f"Latency vs offered rate: {best} sustains the highest rate\n"
        f"within the {slo:g} ms SLO (hollow: rate not delivered)",
    )
    style.legend_outside(ax, fontsize=8)
    return fig


def cpu_per_message(result: ThroughputResult, configs: Sequence[str] | None = None) -> Figure:
    """The process's CPU time per message received against the offered rate."""
    names = list(configs) if configs is not None else _configs(result)
    fig, axes = style.figure("throughput-cpu", (9.5, 3.8))
    ax = axes[0, 0]
    looks = style.highlight(names, None)
    top, top_cost = None, -1.0
    for name in names:
        pts = [p for p in result.points_of(name) if delivered(p)]
        if not pts:
            continue
        x = [p.target_rate_per_s for p in pts]
        y = [p.process_cpu_us_per_msg for p in pts]
        ax.plot(x, y, "-o", color=looks[name]["color"], label=looks[name]["label"], markersize=4)
        if float(np.median(y)) > top_cost:
            top, top_cost = name, float(np.median(y))
    _against_rate(
        ax,
        "process CPU per message (µs)",
        f"CPU per message: {top} costs the most;\nit falls as batches grow",
    )
    style.legend_outside(ax, fontsize=8)
    return fig


def twin_curves(result: TwinResult) -> Figure:
    """The throughput twin: real medians (points) and the simulator (lines), p50 and p99."""
    real, sim = result.real, result.simulator
    labels = list(real.sweeps)
    fig, axes = style.figure("throughput-twin", (11, 3.8), 1, len(labels))
    series = real.rates_per_s
    for ax, label in zip(axes[0], labels, strict=True):
        sweep = real.sweeps[label]
        for name, color in (("p50", "tab:blue"), ("p99", "tab:orange")):
            rates = [r for r in series if sweep.at(r)]
            ax.plot(
                rates,
                [sweep.median(r, f"{name}_ms") for r in rates],
                "o",
                color=color,
                label=f"{name} real (median)",
            )
            sp = [p for p in sim.points[label] if not p.saturated]
            ax.plot(
                [p.target_rate_per_s for p in sp],
                [getattr(p, f"{name}_ms") for p in sp],
                "-",
                color=color,
                label=f"{name} simulator",
            )
        ax.axvspan(series[0] * 0.9, series[CAL_POINTS - 1] * 1.1, color="0.92", zorder=0)
        sat = sim.saturation_rate_per_s[label]
        ax.axvline(sat, color="tab:red", linestyle="--", label="simulated saturation")
        _against_rate(
            ax,
            "latency from intended send (ms)",
            f"{label}: saturates near {sat:,.0f} msg/s (simulated)",
        )
    fig.suptitle("Throughput twin (shaded: the calibration rates)", fontsize=10)
    style.legend_outside(axes[0, -1], fontsize=8)
    return fig


def config_named(result: ThroughputResult, **fields: object) -> str:
    """The name of the one configuration of ``result`` whose curve has these ``fields``
    (e.g. ``system="kafka", client="kafka-python", acks="1"``; its size is the run's)."""
    found = [
        c.config
        for c in result.curves
        if all(getattr(c, k) == v for k, v in fields.items())
        and c.size_bytes == result.params["size_bytes"]
    ]
    if len(found) != 1:
        raise ValueError(f"{fields} match {found}; configurations: {_configs(result)}")
    return found[0]

"""Figures of the decision lesson: the recommendation per tool, and alert rules on lag."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sim.analysis.result import Result
from sim.analysis.style import HOT, SERIES_COLORS, figure, legend_outside
from sim.course.decision.alerts import _UNITS, SIGNALS, AlertRule, fires_at, signals
from sim.course.decision.recommend import Recommendation


def recommendation_figure(rec: Recommendation) -> Figure:
    """Per tool: events lost per outage and the time to catch up after it, with the
    recommended tool named in the title."""
    nums = list(rec.numbers.values())
    x = np.arange(len(nums))
    chosen = ("kafka", "pubsub") if rec.tool == "hybrid" else (rec.tool,)
    colors = ["tab:orange" if n.tool in chosen else "tab:blue" for n in nums]
    fig, axes = figure("recommendation", (10, 3.8), 1, 2)
    ax1, ax2 = axes[0]
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
    legend_outside(
        ax2,
        handles=[
            Patch(color="tab:orange", label=f"recommended ({rec.tool})"),
            Patch(color="tab:blue", label="other tools"),
        ],
    )
    ec = rec.event_class
    fig.suptitle(
        f"{ec.name}: {ec.rate_per_s:g} events/s, consumer away {ec.downtime_s:g} s -> {rec.tool}"
    )
    return fig


def alerts_figure(
    result: Result, reader: str, rules: list[AlertRule], window_s: float | None = None
) -> Figure:
    """Lag, lag rate and lag acceleration of ``reader`` stacked (rates over ``window_s``,
    by default the first rule's), each rule's threshold as a dashed line and its firing
    time as a vertical line."""
    window = window_s if window_s is not None else (rules[0].window_s if rules else 2.0)
    sig = signals(result, reader, window)
    fig, grid = figure("alerts", (9, 6.5), 3, 1, sharex=True)
    axes = grid[:, 0]
    colors = [HOT, *(c for c in SERIES_COLORS if c != "tab:blue")]
    if len(rules) > len(colors):
        raise ValueError(f'"rules" must be at most {len(colors)} rules, got {len(rules)}.')
    for ax, name in zip(axes, SIGNALS, strict=True):
        s = sig[name]
        ax.plot(s.t, s.value, color="tab:blue", label=name.replace("_", " "))
        ax.set_ylabel(f"{name.replace('_', ' ')} ({_UNITS[name]})")
    fired: dict[str, float] = {}
    for rule, color in zip(rules, colors, strict=False):
        ax = axes[SIGNALS.index(rule.signal)]
        ax.axhline(rule.threshold, color=color, linestyle="--", label=f"{rule.name} threshold")
        when = fires_at(rule, result, reader)
        fired[rule.name] = when
        if not math.isnan(when):
            for a in axes:
                a.axvline(when, color=color, linewidth=1)
            ax.plot([], [], color=color, linewidth=1, label=f"{rule.name} fires ({when:.1f} s)")
    for ax in axes:
        legend_outside(ax, fontsize="small")
    axes[-1].set_xlabel("time (s)")
    fired = {n: t for n, t in fired.items() if not math.isnan(t)}
    first = min(fired, key=fired.__getitem__, default=None)
    note = f": {first} fires first ({fired[first]:.1f} s)" if first else ": no rule fires"
    fig.suptitle(f"Lag and its derivatives with alert rules - {result.name} ({reader}){note}")
    return fig

"""Plots of a twin: the simulator's and the real broker's curves on the same axes.

:func:`plot` takes a :class:`~labs.twins.result.TwinResult` and returns a matplotlib
``Figure`` (object-oriented API, no pyplot state), chosen by the twin:

- ``loss`` and ``lag`` -- the Kafka group's lag over time, simulator and real broker (and,
  for ``loss``, the Pub/Sub subscriber's received messages);
- ``hot_partitions`` -- messages per partition: murmur2's count, the simulator's, the real
  topic's;
- ``idempotency`` -- duplicates per consumer: predicted, simulator, real broker;
- ``cache_staleness`` -- stale reads without and with the flush on reconnect.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from labs.twins.common import lag_curve
from labs.twins.result import TwinResult
from sim.analysis.style import legend_outside

COLORS = {"theory": "tab:gray", "simulator": "tab:blue", "real broker": "tab:orange"}


def plot(result: TwinResult) -> Figure:
    """The twin's figure (see the module docstring)."""
    if result.name in ("loss", "lag"):
        return _lag(result)
    if result.name == "hot_partitions":
        return _bars(result, "messages in partition ", "partition", "messages (count)")
    if result.name == "cache_staleness":
        return _bars(result, "stale reads ", "metric", "stale reads (count)", hot=False)
    return _bars(result, "", "metric", "duplicates (count)")


def _lag(result: TwinResult) -> Figure:
    panels = 2 if result.name == "loss" else 1
    fig = Figure(figsize=(9, 3.2 * panels), layout="constrained")
    axes = fig.subplots(panels, 1, squeeze=False)[:, 0]
    for label, res in (("simulator", result.simulator), ("real broker", result.real)):
        t, lag = lag_curve(res, "group:0")
        axes[0].step(t, lag, where="post", color=COLORS[label], label=label)
    p = result.params
    for ax in axes:
        ax.axvspan(p["down_from_s"], p["down_from_s"] + p["down_for_s"], color="0.9", zorder=0)
    axes[0].set(
        title=f"twin {result.name}: Kafka consumer lag (shaded: consumer away)",
        xlabel="time (s)",
        ylabel="lag (messages)",
    )
    legend_outside(axes[0])
    if panels == 2:
        for label, res in (("simulator", result.simulator), ("real broker", result.real)):
            r = res.history.reader("subscriber:0")
            t = np.sort(r.times)
            axes[1].step(
                t, np.arange(1, t.size + 1), where="post", color=COLORS[label], label=label
            )
        axes[1].set(
            title="Redis Pub/Sub subscriber: messages received (shaded: disconnected)",
            xlabel="time (s)",
            ylabel="received (messages, cumulative)",
        )
        legend_outside(axes[1])
    return fig


def _bars(result: TwinResult, prefix: str, xlabel: str, ylabel: str, hot: bool = True) -> Figure:
    rows = [
        r
        for r in result.rows
        if r.metric.startswith(prefix)
        and r.tolerance is not None
        and not r.metric.startswith("same key")
        and (prefix or "duplicate" in r.metric)
    ]
    fig = Figure(figsize=(max(6, 0.7 * len(rows) + 3), 3.5), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(rows))
    width = 0.27
    for i, (label, get) in enumerate(
        (
            ("theory", lambda r: r.theory),
            ("simulator", lambda r: r.simulator),
            ("real broker", lambda r: r.real),
        )
    ):
        values = [np.nan if get(r) is None else float(get(r)) for r in rows]
        ax.bar(x + (i - 1) * width, values, width, color=COLORS[label], label=label)
    ax.set_xticks(x, [r.metric.removeprefix(prefix) for r in rows], fontsize=8)
    title = f"twin {result.name}"
    real = [np.nan if r.real is None else float(r.real) for r in rows]
    if hot and prefix and rows and not np.all(np.isnan(real)):
        hot = int(np.nanargmax(real))
        title += f": partition {rows[hot].metric.removeprefix(prefix)} hottest ({real[hot]:.0f})"
        ax.get_xticklabels()[hot].set_color("tab:red")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    legend_outside(ax)
    return fig

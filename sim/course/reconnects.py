"""Lesson 14's figure: the stale reads of a client-side cache kept across a reconnect.

:func:`stale_reads_figure` runs :mod:`sim.models.client_cache` for one parameter set (the
reconnect lab's names: ``cache_keys``, ``updates_per_s``, ``cache_down_s``,
``reads_per_s``, ``read_for_s``, ``tracking``) and draws the cumulative stale reads over
time of the cache kept across the reconnect and of the one flushed on it, with the
theory's expectation.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from sim.analysis.style import figure, legend_outside
from sim.models.client_cache import LAB_NAMES, CacheScenario, expected_stale_reads, simulate


def stale_reads_figure(*, seed: int = 0, **lab_values) -> Figure:
    """Cumulative stale reads, kept vs flushed cache, simulated and expected, for the
    reconnect lab's cache parameters ``lab_values`` (the lab's defaults for the rest)."""
    unknown = sorted(set(lab_values) - set(LAB_NAMES))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; allowed: {sorted(LAB_NAMES)}.")
    c = CacheScenario.from_lab(**lab_values)
    runs = simulate(c, seed)
    fig, axes = figure("stale-reads", (8.5, 3.6))
    ax = axes[0, 0]
    ax.axvspan(0.0, c.down_s, color="0.9", zorder=0, label="disconnected")
    kept = runs["without_flush"]
    ax.step(
        np.concatenate(([c.down_s], kept.stale_at, [c.end_s])),
        np.concatenate(([0], np.arange(1, kept.stale_at.size + 1), [kept.stale_at.size])),
        where="post",
        color="tab:red",
        label="kept cache (simulated)",
    )
    t = np.linspace(c.down_s, c.end_s, 100)
    ax.plot(t, expected_stale_reads(c, by_s=t), "--", color="tab:gray", label="kept (theory)")
    flushed = runs["with_flush"].stale_reads
    ax.plot([c.down_s, c.end_s], [flushed, flushed], color="tab:blue", label="flushed cache")
    ax.set(
        title=f"Kept cache ({c.tracking} tracking): {kept.stale_reads} of {kept.reads} reads "
        f"stale; flushed: {flushed}",
        xlabel="time since the connection dropped (s)",
        ylabel="stale reads (cumulative, count)",
        xlim=(0.0, c.end_s),
    )
    legend_outside(ax)
    return fig

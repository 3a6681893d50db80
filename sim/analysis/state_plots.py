"""Lesson 17's figures: a compacted partition's size over time, and what the dual write and
the outbox do with crashed requests.

:func:`compaction_timeline` takes a :class:`~sim.models.compaction.CompactedLog`;
:func:`design_counts` takes the :class:`~sim.models.dual_write.DesignCounts` of both
designs (theory, a simulated run or a lab's counts put in the same record).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from sim.analysis.style import HOT, OTHERS, figure, legend_outside
from sim.models.compaction import CompactedLog, latest_state
from sim.models.dual_write import DesignCounts


def compaction_timeline(log: CompactedLog, until_s: float) -> Figure:
    """Records written so far and records in the partition, against the latest state's size;
    the cleanings as ticks."""
    fig, axes = figure("compaction_timeline", (9, 4))
    ax = axes[0, 0]
    t = np.linspace(0.0, until_s, 400)
    written = np.searchsorted(log.append, t, side="right")
    ax.plot(t, written, color=OTHERS, label="records written")
    left = log.records_at(t)
    ax.plot(t, left, color="tab:blue", label="records in the partition")
    live = len(latest_state(log.keys, log.tombstone))
    ax.axhline(live, color="tab:green", linestyle="--", label=f"live keys ({live})")
    if log.cleanings.size:
        ax.plot(log.cleanings, log.records_at(log.cleanings), "v", color=HOT, label="cleanings")
    end = int(left[-1])
    ax.set_title(f"Compacted partition: {int(written[-1])} records written, {end} left")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("records (count)")
    legend_outside(ax)
    return fig


def design_counts(dual: DesignCounts, outbox: DesignCounts) -> Figure:
    """Lost, invented and duplicated events (before and after deduplication) per design."""
    fig, axes = figure("design_counts", (9, 4))
    ax = axes[0, 0]
    fields = ("lost", "invented", "duplicated", "duplicated_after_dedupe")
    labels = ("lost", "invented", "duplicated", "duplicated\nafter dedupe")
    x = np.arange(len(fields))
    for i, (counts, color) in enumerate(((dual, HOT), (outbox, "tab:blue"))):
        values = [float(getattr(counts, f)) for f in fields]
        ax.bar(x + (i - 0.5) * 0.4, values, width=0.4, color=color, label=counts.design)
    ax.set_xticks(x, labels)
    harm = dual.lost + dual.invented
    ax.set_title(
        f"{dual.requests} requests: the dual write lost or invented {harm:.3g} events, "
        "the outbox none"
    )
    ax.set_xlabel("metric")
    ax.set_ylabel("events (count)")
    legend_outside(ax)
    return fig

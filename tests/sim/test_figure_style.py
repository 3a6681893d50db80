"""Every figure function follows the house style (``sim.analysis.style``) at the ends of the
ranges a learner can pick: a title, axes labelled with units, at most eight legend entries,
no two that look alike, and the interesting item named.

The lessons' widgets are taken from the lessons themselves (``lesson_explorers`` runs their
cells up to the ``explore`` call): each control goes to its minimum and maximum (or every
choice), the others stay at their defaults. Twin figures are drawn offline, the simulated run
standing in for the real one (as in ``tests/twins/test_twins_offline.py``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure
from offline_calibration import FIXED

import sim
from sim.analysis import plots
from sim.analysis.style import MAX_LEGEND, highlight, problems, series_colors
from sim.course.widgets import lesson_explorers

matplotlib.use("agg")

ROOT = Path(__file__).resolve().parents[2]
LESSONS = sorted(
    p.stem
    for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py")
    if "explore(" in p.read_text(encoding="utf-8")
)


def _ends(widget) -> list:
    """The values a control can take at its ends: min and max, or every choice."""
    if hasattr(widget, "min") and hasattr(widget, "max"):
        return [widget.min, widget.max]
    if hasattr(widget, "options"):
        return [o[1] if isinstance(o, tuple) else o for o in widget.options]
    return [False, True]  # a checkbox


def _close(fig) -> None:
    if not isinstance(fig, Figure):  # a pyplot figure: let pyplot forget it
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_the_lessons_with_widgets_are_found():
    assert {"01_two_models", "02_loss", "05_hot_partitions", "07_backpressure"} <= set(LESSONS)
    assert "11_observability" in LESSONS


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_widget_figures_at_the_ends_of_their_ranges(lesson):
    explorers = lesson_explorers(ROOT / "notebooks" / f"{lesson}.py")
    assert explorers, f"{lesson}: no explore(...) found"
    for draw, controls in explorers:
        defaults = {name: w.value for name, w in controls.items()}
        for name, widget in controls.items():
            for value in _ends(widget):
                values = {**defaults, name: value}
                fig = draw(**values)
                if not isinstance(fig, Figure | matplotlib.figure.Figure):
                    continue  # a table or text: no figure style to check
                assert problems(fig) == [], f"{lesson} at {values}"
                _close(fig)


def test_lag_at_24_partitions_names_the_hot_one_and_groups_the_rest():
    hot = sim.load("hot_partition").with_changes(
        **{
            "workload.duration_s": 20,
            "topology.log.partitions": 24,
            "consumers.groups.0.consumers": 24,
        }
    )
    r = sim.run(hot, seed=1)
    fig = plots.lag(r, partitions=True)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    peaks = {
        n.removeprefix("lag:"): r.series[n].value.max()
        for n in r.series
        if n.startswith("lag:") and n.count(":") == 3
    }
    hottest = max(peaks, key=peaks.get)
    assert len(peaks) == 24
    assert sorted(labels) == sorted([hottest, "23 others"])
    assert hottest in ax.get_title()
    assert problems(fig) == []
    # the legend sits outside the axes: it covers no data
    fig.canvas.draw()
    legend_box = ax.get_legend().get_window_extent()
    assert legend_box.x0 >= ax.get_window_extent().x1

    load = plots.partition_load(r)
    counts = np.bincount(r.history.partition, minlength=24)
    assert f"p{int(np.argmax(counts))} hottest" in load.axes[0].get_title()
    load.canvas.draw()
    lax = load.axes[0]
    assert lax.get_legend().get_window_extent().x0 >= lax.get_window_extent().x1
    assert problems(load) == []


@pytest.mark.parametrize("name", sorted(plots.FIGURES))
def test_every_plot_function_on_a_loss_and_a_many_reader_run(name):
    loss = sim.run(
        {
            "workload": {"rate_per_s": 200, "duration_s": 5},
            "consumers": {"subscribers": 1, "groups": [{}]},
            "faults": [["subscriber_down", "subscriber:0", 1, 1]],
        },
        seed=0,
    )
    many = sim.run(
        {
            "workload": {"rate_per_s": 200, "duration_s": 3},
            "consumers": {"subscribers": 6, "groups": [{}, {}, {}, {}]},
        },
        seed=0,
    )
    for result in (loss, many):
        fig = plots.FIGURES[name](result)
        assert problems(fig) == [], f"{name} on {result.name}"
    title = plots.FIGURES[name](loss)
    text = title.get_suptitle() + " ".join(ax.get_title() for ax in title.axes)
    if name in ("timeline", "comparison"):
        assert "subscriber:0 lost most" in text


def test_twin_figures_offline_at_the_ends_of_their_ranges():
    from labs.twins import (
        HotPartitionsTwin,
        IdempotencyTwin,
        LagTwin,
        LossTwin,
        Row,
        TwinResult,
    )
    from labs.twins.plot import plot

    cal = FIXED

    cases = [
        LossTwin(down_for_s=0.5),
        LossTwin(down_for_s=2.8),
        LagTwin(),
        HotPartitionsTwin(partitions=1),
        HotPartitionsTwin(partitions=32, key_distribution="zipf"),
        IdempotencyTwin(),
    ]
    for t in cases:
        run = t.simulate(cal)
        if isinstance(t, HotPartitionsTwin):
            counts = np.bincount(run.history.partition, minlength=t.partitions)
            rows = tuple(Row(f"messages in partition {p}", c, c, c) for p, c in enumerate(counts))
        else:
            rows = (Row("duplicates, commit after", 1, 1, 1),)
        fig = plot(TwinResult(t.name, t.params(), cal, run, run, rows))
        assert problems(fig) == [], repr(t)
        if isinstance(t, HotPartitionsTwin) and t.partitions > 1:
            assert f"partition {int(np.argmax(counts))} hottest" in fig.axes[0].get_title()


def test_durability_timeline():
    import matplotlib.pyplot as plt

    from sim.course.durability import plot_timeline, simulate_durability

    for acks in (1, "all"):
        fig = plot_timeline(simulate_durability(acks=acks, seed=7))
        assert problems(fig) == [], f"acks={acks}"
        plt.close(fig)


def test_the_style_check_catches_what_it_should():
    fig = Figure()
    ax = fig.add_subplot()
    for k in range(12):  # tab10 repeats its colours after ten series
        ax.plot([0, 1], [k, k], label=f"s{k}")
    ax.legend()
    ax.set_xlabel("time")
    found = problems(fig)
    assert any("title" in p for p in found)
    assert any("no label" in p and "y axis" in p for p in found)
    assert any("names no unit" in p for p in found)
    assert any(f"more than {MAX_LEGEND}" in p for p in found)
    assert any("look alike" in p for p in found)


def test_highlight_groups_beyond_the_legend_limit_and_colours_never_repeat():
    names = [f"p{k}" for k in range(24)]
    styles = highlight(names, "p7")
    labelled = [s["label"] for s in styles.values() if s["label"]]
    assert labelled == ["23 others", "p7"] or sorted(labelled) == ["23 others", "p7"]
    few = highlight(names[:MAX_LEGEND], "p1")
    assert len({s["color"] for s in few.values()}) == MAX_LEGEND
    with pytest.raises(ValueError, match='"n"'):
        series_colors(MAX_LEGEND + 1)

"""The course's figure house style, and a check of it.

Every figure has a title that names what is interesting in it (the hot partition, the
reader that lost most), axes labelled with their units, at most :data:`MAX_LEGEND` legend
entries and never two that look alike, and legends that do not cover data. More series than
that are grouped: the one that matters in its own colour, the rest in one grey style under
one legend entry (:func:`highlight`). :func:`problems` lists what a figure breaks; the tests
run it on every figure function at the ends of the lessons' slider ranges.

Figure functions create their figure with :func:`figure`. Inside :func:`reusing` (what a
lesson widget does on every slider move) it hands back the figure the same function made
last time, emptied of its data but with its axes and ticks kept, which saves about a third
of a redraw; everywhere else it makes a new one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

#: Legend entries at most; beyond that, group (:func:`highlight`).
MAX_LEGEND = 8
#: Distinct colours for up to :data:`MAX_LEGEND` series (tab10 without grey and red: grey
#: is for "the others", red for the item that matters -- loss, the hot partition).
SERIES_COLORS = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:olive",
    "tab:cyan",
)
HOT = "tab:red"
OTHERS = "0.6"

#: Axis labels that name a count or a category need no unit.
_NO_UNIT = re.compile(
    r"^(reader|partition|tool|consumer|protocol|metric|message id.*|fraction of messages)$"
)


_POOL: ContextVar[dict | None] = ContextVar("figure_pool", default=None)


@contextmanager
def reusing(pool: dict) -> Iterator[None]:
    """Within the block, :func:`figure` reuses the figures kept in ``pool`` (and keeps the
    ones it makes there)."""
    token = _POOL.set(pool)
    try:
        yield
    finally:
        _POOL.reset(token)


def figure(
    key: str, figsize: tuple[float, float], nrows: int = 1, ncols: int = 1, *, sharex: bool = False
) -> tuple[Figure, np.ndarray]:
    """A constrained-layout figure with a ``nrows`` x ``ncols`` grid of axes (a 2-D array),
    new -- or, inside :func:`reusing`, the one made last time for the same ``key`` and
    shape, emptied (:func:`_empty`)."""
    pool = _POOL.get()
    shape = (key, tuple(figsize), nrows, ncols, sharex)
    fig = None if pool is None else pool.get(shape)
    if fig is None:
        fig = Figure(figsize=figsize, layout="constrained")
        fig.subplots(nrows, ncols, sharex=sharex, squeeze=False)
        if pool is not None:
            pool[shape] = fig
    else:
        _empty(fig)
    return fig, np.array(fig.axes, dtype=object).reshape(nrows, ncols)


def _empty(fig: Figure) -> None:
    """Remove what a figure function drew (artists, legends, titles, labels, scales, limits)
    and keep the axes with their tick objects, which are what a new figure spends most on."""
    fig.set_layout_engine("constrained")
    if fig._suptitle is not None:
        fig._suptitle.set_text("")
    for ax in fig.axes:
        for container in list(ax.containers):
            container.remove()
        for artist in [*ax.lines, *ax.collections, *ax.patches, *ax.texts, *ax.images]:
            artist.remove()
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        ax.set_title("")
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.set_xscale("linear")  # also resets the tick locators and formatters
        ax.set_yscale("linear")
        ax.set_prop_cycle(None)
        ax.dataLim.set_points(np.array([[np.inf, np.inf], [-np.inf, -np.inf]]))
        ax.ignore_existing_data_limits = True
        ax.set_autoscale_on(True)


def series_colors(n: int) -> list[str]:
    """``n`` colours that never repeat; more than :data:`MAX_LEGEND` is an error -- group
    them with :func:`highlight` instead of letting a colour map wrap around."""
    if n > len(SERIES_COLORS):
        raise ValueError(
            f'"n" must be at most {len(SERIES_COLORS)} distinct series, got {n}: '
            "group the rest (sim.analysis.style.highlight)."
        )
    return list(SERIES_COLORS[:n])


def highlight(names: Sequence[str], hot: str | None) -> dict[str, dict]:
    """Line styles for ``names``: each its own colour when they fit in a legend, otherwise
    ``hot`` in red with its name and every other one grey, under a single "other" entry.

    Returns ``{name: {"color": ..., "label": ..., "zorder": ...}}`` for matplotlib calls;
    a label of ``None`` means "no legend entry".
    """
    if len(names) <= MAX_LEGEND:
        colors = series_colors(len(names))
        pairs = zip(names, colors, strict=True)
        return {n: {"color": c, "label": n, "zorder": 2} for n, c in pairs}
    others = len(names) - (hot in names)
    style: dict[str, dict] = {}
    first = True
    for n in names:
        if n == hot:
            style[n] = {"color": HOT, "label": n, "zorder": 3}
        else:
            label = f"{others} others" if first else None
            style[n] = {"color": OTHERS, "label": label, "zorder": 2, "linewidth": 0.8}
            first = False
    return style


def legend_outside(ax: Axes, **kwargs) -> None:
    """The axes' legend to its right, outside the data area (a constrained layout makes
    room for it)."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kwargs)


def problems(fig: Figure) -> list[str]:
    """What ``fig`` breaks of the house style (empty when nothing)."""
    found = []
    suptitle = fig.get_suptitle() if hasattr(fig, "get_suptitle") else ""
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    if not axes:
        return ["the figure has no axes"]
    if not suptitle and not axes[0].get_title():
        found.append("the title is missing (on the figure or its first axes)")
    for i, ax in enumerate(axes):
        where = f"axes {i} ({ax.get_title() or suptitle!r})"
        shared_x = ax.get_shared_x_axes().get_siblings(ax)
        for axis, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())):
            if not label:
                if axis == "x" and len(shared_x) > 1 and any(a.get_xlabel() for a in shared_x):
                    continue  # a shared x axis is labelled once, at the bottom
                found.append(f"{where}: the {axis} axis has no label")
            elif not _has_unit(label):
                found.append(f"{where}: the {axis} label {label!r} names no unit, e.g. '(s)'")
        legend = ax.get_legend()
        if legend is None:
            continue
        texts = [t.get_text() for t in legend.get_texts()]
        if len(texts) > MAX_LEGEND:
            found.append(f"{where}: {len(texts)} legend entries, more than {MAX_LEGEND}")
        looks = [_look(h) for h in legend.legend_handles]
        for k, look in enumerate(looks):
            if look is not None and look in looks[:k]:
                j = looks.index(look)
                found.append(f"{where}: legend entries {texts[j]!r} and {texts[k]!r} look alike")
    return found


def _has_unit(label: str) -> bool:
    return bool(re.search(r"\(.+\)|\[.+\]", label)) or bool(_NO_UNIT.match(label.strip()))


def _look(handle) -> tuple | None:
    """Colour, line style and marker of a legend handle (what tells entries apart)."""
    if handle is None:
        return None
    color = None
    for getter in ("get_color", "get_facecolor", "get_edgecolor"):
        if hasattr(handle, getter):
            value = getattr(handle, getter)()
            try:
                color = to_hex(value if not hasattr(value, "ndim") or value.ndim == 1 else value[0])
            except (ValueError, IndexError):
                continue
            break
    linestyle = handle.get_linestyle() if hasattr(handle, "get_linestyle") else None
    if isinstance(linestyle, list):
        linestyle = str(linestyle[0]) if linestyle else None
    marker = handle.get_marker() if hasattr(handle, "get_marker") else type(handle).__name__
    return (color, str(linestyle), str(marker))

"""Interactive controls for the lessons: sliders and dropdowns that re-run a function and
redraw its figure in place.

:func:`explore` takes a function that returns a matplotlib Figure (usually: build a scenario
from the keyword arguments, ``sim.run`` it, plot the result) and ipywidgets controls named
after its parameters. Moving a control re-runs the function and replaces the picture.

A move costs the simulator run plus one rendering of the figure, and nothing else:

- the figure goes into an ``ipywidgets.Image`` as PNG bytes (a value update: no output
  area is cleared and rebuilt in the browser);
- the figure functions of the course (``sim.analysis.style.figure``) get back the figure
  they made on the last move, emptied, and draw into it: the axes and their ticks are
  kept, which saves about a third of the time a new figure costs;
- it is rendered once, not twice: a constrained layout needs a layout pass before the real
  one, so the layout found for the first figure is kept and reused while the next figure
  has the same shape (axes, sizes, tick-label and legend widths), and redone when it does
  not;
- pictures already drawn are kept (a few dozen per widget), so going back to a value is
  instant;
- sliders report a value when released (``continuous_update=False``), so a drag does not
  queue a redraw for every value it passes; arrow keys redraw at each step.

The first figure is drawn at once. Displayed, the widget also carries that figure as a
plain ``image/png``: a notebook executed headless (nbval, CI) or rendered without a kernel
(the static site) shows the figure at the defaults, while JupyterLab shows the live widget.
"""

from __future__ import annotations

import base64
import io
import re
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from IPython import get_ipython
from IPython.display import display
from matplotlib.figure import Figure

from sim.analysis.style import reusing

_FAILED = object()

#: Pictures kept per widget (PNG bytes, about 50-150 KB each).
CACHE_SIZE = 32
#: Resolution of the pictures (matplotlib's default, as the inline backend draws them).
DPI = 100
#: Width of a slider or dropdown with its label: the track gets what the label leaves.
CONTROL_WIDTH = "440px"


def explore(
    draw: Callable[..., Figure | Any], *, columns: int = 2, **controls: widgets.ValueWidget
) -> Explorer:
    """Controls in a grid above the picture of ``draw(**values)``, redrawn on every move.

    ``draw`` may return a Figure (shown as a picture) or any other object (displayed as is,
    e.g. a text table); anything it displays itself appears above the picture. Its keyword
    arguments are the controls' names.
    """
    if not controls:
        raise ValueError('"controls" must name at least one widget, e.g. rate=IntSlider(...).')
    if not isinstance(columns, int) or columns < 1:
        raise ValueError(f'"columns" must be a positive integer, got {columns!r}.')
    return Explorer(draw, columns, controls)


class Explorer(widgets.VBox):
    """The widget :func:`explore` returns: controls, an output area, the picture."""

    def __init__(
        self, draw: Callable[..., Any], columns: int, controls: dict[str, widgets.ValueWidget]
    ) -> None:
        self._draw = draw
        self._controls = controls
        self._layouts = LayoutCache()
        self._pictures: OrderedDict[Hashable, bytes] = OrderedDict()
        self._figures: dict = {}  # the figures draw made, for it to reuse (style.figure)
        self.output = widgets.Output()
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        for w in controls.values():
            w.style = {"description_width": "initial"}
            w.layout.width = CONTROL_WIDTH
            if hasattr(w, "continuous_update"):
                w.continuous_update = False
            w.observe(self.redraw, names="value")
        grid = widgets.GridBox(
            list(controls.values()),
            layout=widgets.Layout(
                grid_template_columns=f"repeat({columns}, {CONTROL_WIDTH})", grid_gap="2px 16px"
            ),
        )
        super().__init__([grid, self.output, self.image])
        self.redraw()

    @property
    def values(self) -> dict[str, Any]:
        """The controls' current values, by name."""
        return {name: w.value for name, w in self._controls.items()}

    def redraw(self, _change: Any = None) -> None:
        """Re-run ``draw`` with the current values and show its result."""
        values = self.values
        key = _hashable(values)
        if key is not None and key in self._pictures:
            self._pictures.move_to_end(key)
            self.image.value = self._pictures[key]
            return
        shown: Any = _FAILED
        with self.output, _counting_displays() as displayed, reusing(self._figures):
            self.output.clear_output(wait=True)
            shown = self._draw(**values)
            if not isinstance(shown, Figure):
                display(shown)
        # in a kernel the output area shows draw's exception (and swallows it): no picture
        if shown is _FAILED or not isinstance(shown, Figure):
            self.image.layout.display = "none"
            return
        png = self._layouts.render(shown)
        self.image.layout.display = None
        self.image.value = png
        if key is not None and not displayed:  # what draw displays must be shown again
            self._pictures[key] = png
            if len(self._pictures) > CACHE_SIZE:
                self._pictures.popitem(last=False)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = super()._repr_mimebundle_(**kwargs)
        names = ", ".join(self._controls)
        bundle["text/plain"] = f"Interactive figure ({names}): a running kernel redraws it."
        if self.image.value and self.image.layout.display != "none":
            bundle["image/png"] = base64.b64encode(self.image.value).decode("ascii")
        return bundle


class LayoutCache:
    """Renders figures to PNG, laying out only figures whose shape has not been seen last.

    A constrained layout costs a full drawing pass before the real one. Figures from the
    same function with the same :func:`layout_key` get the same layout, so the positions
    found for the last one are applied to the next and the figure is drawn once.
    """

    def __init__(self) -> None:
        self.key: Hashable | None = None
        self.positions: list = []
        self.suptitle_y: float | None = None
        #: How many renders reused a layout, and how many computed one.
        self.reused = 0
        self.computed = 0

    def render(self, fig: Figure, dpi: float = DPI) -> bytes:
        """``fig`` as PNG bytes."""
        engine = fig.get_layout_engine()
        constrained = engine is not None and type(engine).__name__ == "ConstrainedLayoutEngine"
        key = layout_key(fig) if constrained else None
        if constrained and key == self.key and len(self.positions) == len(fig.axes):
            fig.set_layout_engine(None)  # "none" would still lay out
            for ax, pos in zip(fig.axes, self.positions, strict=True):
                ax.set_position(pos)
                ax.set_in_layout(True)  # set_position takes it out of later layouts
            if fig._suptitle is not None and self.suptitle_y is not None:
                fig._suptitle.set_y(self.suptitle_y)
            self.reused += 1
        buf = io.BytesIO()
        # zlib level 1: a third faster than the default 6, the bytes about 1.3 times larger
        fig.savefig(buf, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
        if constrained and key != self.key or not self.positions:
            self.key = key
            self.positions = [ax.get_position() for ax in fig.axes]
            self.suptitle_y = fig._suptitle.get_position()[1] if fig._suptitle else None
            self.computed += 1
        return buf.getvalue()


def layout_key(fig: Figure) -> Hashable:
    """What a constrained layout of ``fig`` depends on: its size, its axes and the width of
    everything around them (tick labels, axis labels, legends placed outside, titles' line
    counts). Digits have one width in the default font, so lengths stand for widths."""
    parts: list[Hashable] = [tuple(fig.get_size_inches()), fig._suptitle is not None]
    for ax in fig.axes:
        ticks = []
        for axis in (ax.xaxis, ax.yaxis):
            locs = [x for x in axis.get_majorticklocs() if _inside(x, axis.get_view_interval())]
            labels = axis.major.formatter.format_ticks(locs) if locs else []
            ticks.append((axis.get_scale(), max((len(s) for s in labels), default=0)))
        legend = ax.get_legend()
        parts.append(
            (
                ax.get_subplotspec().get_geometry() if ax.get_subplotspec() else None,
                tuple(ticks),
                ax.get_xlabel(),
                ax.get_ylabel(),
                ax.get_title().count("\n"),
                None
                if legend is None
                else (legend._loc, tuple(len(t.get_text()) for t in legend.get_texts())),
            )
        )
    return tuple(parts)


@contextmanager
def _counting_displays() -> Iterator[list]:
    """A list that gets one entry per ``display`` (rich output) made inside the block."""
    calls: list = []
    shell = get_ipython()
    pub = getattr(shell, "display_pub", None)
    if pub is None:
        yield calls
        return
    publish = pub.publish

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return publish(*args, **kwargs)

    pub.publish = counting
    try:
        yield calls
    finally:
        pub.publish = publish


def _inside(x: float, interval: tuple[float, float]) -> bool:
    lo, hi = sorted(interval)
    return lo - 1e-9 * abs(hi - lo) <= x <= hi + 1e-9 * abs(hi - lo)


def _hashable(values: dict[str, Any]) -> Hashable | None:
    try:
        key = tuple(sorted(values.items()))
        hash(key)
    except TypeError:
        return None
    return key


def lesson_explorers(path: str | Path) -> list[tuple[Callable[..., Any], dict[str, Any]]]:
    """The ``(draw, controls)`` of every :func:`explore` call in a lesson's jupytext source,
    for tests and timings: runs the lesson's code cells in order up to its last ``explore``
    cell, with a recording ``explore`` (nothing is displayed; cells after it do not run; a
    cell without ``explore`` that raises -- a lab without brokers -- is passed over)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    code = [
        cell
        for cell in re.split(r"^# %%.*$", text, flags=re.M)[1:]
        if not cell.lstrip().startswith("# [markdown]")
    ]
    last = max((i for i, c in enumerate(code) if "explore(" in c), default=None)
    if last is None:
        raise ValueError(f'"path": {path} has no explore(...) cell.')
    found: list[tuple[Callable[..., Any], dict[str, Any]]] = []

    def recording(draw: Callable[..., Any], *, columns: int = 2, **controls: Any) -> None:
        found.append((draw, controls))

    namespace: dict[str, Any] = {"__name__": f"lesson_{path.stem}"}
    for cell in code[: last + 1]:
        try:
            exec(compile(cell, str(path), "exec"), namespace)  # noqa: S102 -- the lesson's code
        except Exception:
            # A cell between two explore cells may need the real brokers (lesson 15's lab
            # between parts 1 and 3): the widgets never depend on it, and nbval runs every
            # cell of every lesson. An explore cell itself must run.
            if "explore(" in cell:
                raise
        namespace["explore"] = recording  # after the cell that imports it
    return found

"""Interactive controls for the lessons: sliders and dropdowns that re-run a function and
redraw its figure in place.

:func:`explore` takes a function that returns a matplotlib Figure (usually: build a scenario
from the keyword arguments, ``sim.run`` it, plot the result) and ipywidgets controls named
after its parameters. Moving a control re-runs the function and replaces the figure; the
first figure is drawn at once, so a notebook executed headless (nbval, CI) shows it too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from IPython.display import display
from matplotlib.figure import Figure


def explore(
    draw: Callable[..., Figure | Any], *, columns: int = 2, **controls: widgets.ValueWidget
) -> widgets.VBox:
    """Controls in a grid above an output area that shows ``draw(**values)``.

    ``draw`` may return a Figure (displayed) or any other object (displayed as is, e.g. a
    text table). Its keyword arguments are the controls' names.
    """
    if not controls:
        raise ValueError('"controls" must name at least one widget, e.g. rate=IntSlider(...).')
    out = widgets.Output()

    def redraw(_change: Any = None) -> None:
        values = {name: w.value for name, w in controls.items()}
        with out:
            out.clear_output(wait=True)
            shown = draw(**values)
            display(shown)
            if isinstance(shown, Figure):
                import matplotlib.pyplot as plt

                plt.close(shown)

    for w in controls.values():
        w.style = {"description_width": "initial"}
        w.observe(redraw, names="value")
    grid = widgets.GridBox(
        list(controls.values()),
        layout=widgets.Layout(grid_template_columns=f"repeat({columns}, max-content)"),
    )
    redraw()
    return widgets.VBox([grid, out])

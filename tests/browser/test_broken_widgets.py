"""The detector catches a broken widget: the lesson tests would fail on one.

Two ways a learner's widgets break, each made on purpose in a temporary notebook next to a
healthy slider built the course's way (``sim.course.widgets.explore``):

- a version mismatch: the kernel side announces a controls version (99.0.0) that the
  installed JupyterLab widget manager does not have -- what an ipywidgets upgrade on one
  side only looks like;
- no widget manager: a second JupyterLab with ``@jupyter-widgets/jupyterlab-manager``
  disabled (as ``jupyter labextension disable`` would), where widgets fall back to text.

Each test also checks that the healthy widget passes, so the detector is not simply
reporting everything; the first also checks that a cell that raises is reported. A last
test shows that a figure redrawn in place (an ``ipywidgets.Image``) counts as a new figure.
"""

from __future__ import annotations

import nbformat
from labpage import Notebook
from test_site_builder import build_site

HEALTHY = """\
import matplotlib.pyplot as plt
import ipywidgets as widgets
from traitlets import Unicode
from sim.course.widgets import explore

def line(slope):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, slope])
    return fig

explore(line, slope=widgets.IntSlider(value=1, min=0, max=5, description="slope"))"""

FROM_THE_FUTURE = """\
class SliderFromTheFuture(widgets.IntSlider):
    \"\"\"An IntSlider claiming a controls version the installed widget manager lacks.\"\"\"
    _model_module_version = Unicode("99.0.0").tag(sync=True)
    _view_module_version = Unicode("99.0.0").tag(sync=True)

explore(line, slope=SliderFromTheFuture(value=1, min=0, max=5, description="slope"))"""


def _notebook(folder, name: str, *sources: str) -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, folder / name)
    return name


def _run(server, driver, name: str) -> Notebook:
    nb = Notebook(driver, name)
    nb.open(server.open_url(name))
    nb.run_all(120)
    return nb


def test_a_widget_version_mismatch_is_reported(lab, driver):
    name = _notebook(lab.root, "broken_version.ipynb", HEALTHY, FROM_THE_FUTURE, "1 / 0")
    try:
        problems = _run(lab, driver, name).problems()
    finally:
        lab.shutdown_kernels()
        (lab.root / name).unlink()
    print("\n".join(problems))
    assert problems, "the detector saw nothing wrong with a 99.0.0 widget"
    assert not [p for p in problems if " cell 0 " in p], f"the healthy cell was flagged: {problems}"
    assert any(" cell 1 " in p and "failed to render" in p for p in problems), problems
    assert any(" cell 2 " in p and "raised ZeroDivisionError" in p for p in problems), problems


def test_widgets_without_the_widget_manager_are_reported(lab_without_widget_manager, driver):
    server = lab_without_widget_manager
    name = _notebook(server.root, "no_manager.ipynb", HEALTHY)
    try:
        problems = _run(server, driver, name).problems()
    finally:
        server.shutdown_kernels()
    print("\n".join(problems))
    # without a widget manager the explorer's widget shows its fallback (the static figure,
    # sim.course.widgets), not its controls: reported for the cell that made it
    assert any(" cell 0 " in p and "renders as text" in p for p in problems), problems


IMAGE_IN_PLACE = """\
import io
import ipywidgets as widgets
import matplotlib
import matplotlib.pyplot as plt

matplotlib.use("agg")
fig, ax = plt.subplots(figsize=(3, 2))
(line,) = ax.plot([0, 1], [0, 1])

def png():
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()

image = widgets.Image(value=png(), format="png")
slope = widgets.IntSlider(value=1, min=0, max=5, description="slope")

def redraw(change):
    line.set_ydata([0, change["new"]])
    image.value = png()

slope.observe(redraw, names="value")
widgets.VBox([slope, image])"""


def test_an_image_widget_redrawn_in_place_counts_as_a_new_figure(lab, driver):
    """The way a faster widget may redraw (an ``ipywidgets.Image`` whose value changes, no
    Output re-display) is seen as a new figure too, and the site builder finds its PNG in the
    widget state JupyterLab saves."""
    name = _notebook(lab.root, "image_in_place.ipynb", IMAGE_IN_PLACE)
    try:
        nb = _run(lab, driver, name)
        assert nb.problems() == []
        (cell,) = nb.widget_cells()
        times = nb.move_slider(cell["index"], 3)
        nb.save()
        saved = nbformat.read(lab.root / name, as_version=4)
    finally:
        lab.shutdown_kernels()
        (lab.root / name).unlink()
    assert len(times) == 3
    # The static site can show it too: the saved widget state holds the image's PNG.
    assert build_site.freeze_widgets(saved, name) == 1
    assert "image/png" in saved.cells[0].outputs[1]["data"]

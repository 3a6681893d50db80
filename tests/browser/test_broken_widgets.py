"""The detector catches a broken widget: the lesson tests would fail on one.

Two ways a learner's widgets break, each made on purpose in a temporary notebook next to a
healthy slider built the course's way (``sim.course.widgets.explore``):

- a version mismatch: the kernel side announces a controls version (99.0.0) that the
  installed JupyterLab widget manager does not have -- what an ipywidgets upgrade on one
  side only looks like;
- no widget manager: a second JupyterLab with ``@jupyter-widgets/jupyterlab-manager``
  disabled (as ``jupyter labextension disable`` would), where widgets fall back to text.

Each test also checks that the healthy widget passes, so the detector is not simply
reporting everything.
"""

from __future__ import annotations

import nbformat
import pytest
from conftest import BUILD
from labpage import Notebook
from labserver import free_port, start_lab

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
    name = _notebook(lab.root, "broken_version.ipynb", HEALTHY, FROM_THE_FUTURE)
    try:
        problems = _run(lab, driver, name).problems()
    finally:
        lab.shutdown_kernels()
        (lab.root / name).unlink()
    print("\n".join(problems))
    assert problems, "the detector saw nothing wrong with a 99.0.0 widget"
    assert all(" cell 1 " in p for p in problems), f"the healthy cell 0 was flagged: {problems}"
    assert any("failed to render" in p for p in problems), problems


@pytest.fixture
def lab_without_widget_manager(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    server = start_lab(
        root,
        BUILD / "state-no-widgets",
        port=free_port(),
        page_config={"disabledExtensions": {"@jupyter-widgets/jupyterlab-manager": True}},
    )
    yield server
    server.stop()


def test_widgets_without_the_widget_manager_are_reported(lab_without_widget_manager, driver):
    server = lab_without_widget_manager
    name = _notebook(server.root, "no_manager.ipynb", HEALTHY)
    try:
        problems = _run(server, driver, name).problems()
    finally:
        server.shutdown_kernels()
    print("\n".join(problems))
    assert any("renders as text" in p for p in problems), problems
    assert any("VBox(children=" in p for p in problems), problems

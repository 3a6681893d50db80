"""The site builder's widget freezing, on hand-made widget state (no kernel, no browser)."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import build_site  # noqa: E402

PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5E"
    "rkJggg=="
)


def _notebook(models: dict) -> nbformat.NotebookNode:
    view = {"model_id": "box", "version_major": 2, "version_minor": 0}
    cell = nbformat.v4.new_code_cell("explore(...)")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", {build_site.WIDGET_VIEW: view, "text/plain": "VBox(...)"}
        )
    ]
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb.metadata["widgets"] = {build_site.WIDGET_STATE: {"state": models}}
    return nb


def _slider_box(figure: dict) -> dict:
    return {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_s", "IPY_MODEL_o"]}},
        "s": {"model_name": "IntSliderModel", "state": {"description": "rate", "value": 100}},
        "o": figure,
    }


def test_a_widget_becomes_its_figure_its_values_and_the_kernel_note():
    figure = {
        "model_name": "OutputModel",
        "state": {"outputs": [{"output_type": "display_data", "data": {"image/png": PNG}}]},
    }
    nb = _notebook(_slider_box(figure))
    assert build_site.freeze_widgets(nb, "lesson") == 1
    note, shown = nb.cells[0].outputs
    assert "need a running kernel" in note.data["text/html"]
    assert "rate = 100" in note.data["text/html"]
    assert shown.data["image/png"] == PNG
    assert "widgets" not in nb.metadata


def test_an_image_widget_updated_in_place_gives_its_png():
    figure = {
        "model_name": "ImageModel",
        "state": {"format": "png"},
        "buffers": [{"path": ["value"], "data": PNG, "encoding": "base64"}],
    }
    nb = _notebook(_slider_box(figure))
    build_site.freeze_widgets(nb, "lesson")
    assert nb.cells[0].outputs[1].data["image/png"] == PNG


def test_a_widget_without_figure_or_state_stops_the_build():
    empty = {"model_name": "OutputModel", "state": {"outputs": []}}
    with pytest.raises(build_site.SiteError, match="lesson cell 0: its widget holds no figure"):
        build_site.freeze_widgets(_notebook(_slider_box(empty)), "lesson")
    with pytest.raises(build_site.SiteError, match="no saved state"):
        build_site.freeze_widgets(_notebook({}), "lesson")


def test_links_to_course_files_point_at_their_pages():
    page = '<a href="glossary.md#lag">x</a><a href="02_loss.ipynb">y</a><a href="other.md">z</a>'
    fixed = build_site._links(page, {"glossary", "02_loss"})
    assert (
        fixed
        == '<a href="glossary.html#lag">x</a><a href="02_loss.html">y</a><a href="other.md">z</a>'
    )


def test_a_progress_bar_left_by_a_finished_run_is_dropped():
    bar = {
        "box": {
            "model_name": "HBoxModel",
            "state": {"children": ["IPY_MODEL_h", "IPY_MODEL_p"], "layout": "IPY_MODEL_l"},
        },
        "l": {"model_name": "LayoutModel", "state": {}},
        "h": {"model_name": "HTMLModel", "state": {"value": "configurations"}},
        "p": {"model_name": "FloatProgressModel", "state": {"value": 6.0, "max": 6.0}},
    }
    nb = _notebook(bar)
    assert build_site.freeze_widgets(nb, "lesson") == 0
    assert nb.cells[0].outputs == []
    # a slider box is no progress bar, even with a progress model inside
    figure = {"model_name": "FloatProgressModel", "state": {}}
    with pytest.raises(build_site.SiteError, match="holds no figure"):
        build_site.freeze_widgets(_notebook(_slider_box(figure)), "lesson")


def test_an_executed_copy_is_used_only_with_every_widgets_state(tmp_path):
    figure = {"model_name": "OutputModel", "state": {"outputs": []}}
    with_state = _notebook(_slider_box(figure))
    without_state = _notebook({})  # as nbval saves a lesson with sliders: views, no state
    plain = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    plain.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    never_ran = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    assert build_site.usable(with_state) and build_site.usable(plain)
    assert not build_site.usable(without_state) and not build_site.usable(never_ran)
    # the first folder with a usable copy wins; one without it is passed over
    source = tmp_path / "07_lesson.py"
    first, second = tmp_path / "browser", tmp_path / "nbval"
    first.mkdir(), second.mkdir()
    nbformat.write(without_state, first / "07_lesson.ipynb")
    nbformat.write(plain, second / "07_lesson.ipynb")
    nb, how = build_site.executed(source, [first, second])
    assert nb.cells[0].outputs[0].text == "1\n" and how == f"as executed for {second}"

"""Every lesson with sliders, in JupyterLab in headless Chromium, as a learner runs it.

Run All (the toolbar's restart-and-run-all), wait until the kernel is idle, then: no cell
raised, every widget is a control (not "Error displaying widget", not ``VBox(children=...)``),
and moving a slider with the keyboard brings a new figure each time (the key-to-figure times
are printed at the end of the run). In the decision lesson, changing an input changes the
recommendation. A screenshot of each lesson's widget lands in ``build/browser/``.
"""

from __future__ import annotations

import pytest
from conftest import BUILD, SLIDER_TIMES, WIDGET_LESSONS
from labpage import Notebook
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

pytestmark = pytest.mark.brokers

#: The longest Run All of one lesson (the slowest take about 15 s on a quiet machine).
RUN_ALL_TIMEOUT_S = 180
MOVES = 5
#: The slider to move where the first one does not change the figure (lesson 12's first
#: slider, fan-out, changes the recommendation's reasons but not the loss bars).
SLIDER = {"12_decision_framework": "downtime_s"}


def test_the_lessons_with_sliders_are_found():
    """The walk finds the lessons that use `explore(` (a walk finding none would pass all)."""
    assert {"01_two_models", "02_loss", "05_hot_partitions", "07_backpressure",
            "11_observability", "12_decision_framework"} <= set(WIDGET_LESSONS)  # fmt: skip


@pytest.mark.parametrize("lesson", WIDGET_LESSONS)
def test_lesson_runs_and_its_sliders_redraw_the_figure(lesson, lab, driver):
    nb = Notebook(driver, f"{lesson}.ipynb")
    nb.open(lab.open_url(f"{lesson}.ipynb"))
    try:
        seconds = nb.run_all(RUN_ALL_TIMEOUT_S)
        print(f"{lesson}: Run All took {seconds:.1f} s")
        nb.save()  # executed, at the defaults, with widget state: the static site's copy
        assert nb.problems() == []
        widgets = nb.widget_cells()
        assert widgets, f"{lesson}: no widget output after Run All"
        with_slider = [c for c in widgets if c["sliders"]]
        assert with_slider, f"{lesson}: none of its widgets has a slider"
        cell = with_slider[0]
        assert cell["images"] >= 1, f"{lesson}: the widget shows no figure after Run All"
        nb.screenshot(BUILD / f"{lesson}.png", cell["index"])
        SLIDER_TIMES[lesson] = nb.move_slider(cell["index"], MOVES, SLIDER.get(lesson, ""))
        assert nb.problems() == []
        nb.screenshot(BUILD / f"{lesson}-moved.png", cell["index"])
    finally:
        lab.shutdown_kernels()


def test_the_decision_tool_changes_its_recommendation(lab, driver):
    """Lesson 12: ticking "needs replay" with the keyboard changes the recommended tool."""
    lesson = "12_decision_framework"
    nb = Notebook(driver, f"{lesson}.ipynb")
    nb.open(lab.open_url(f"{lesson}.ipynb"))
    try:
        nb.run_all(RUN_ALL_TIMEOUT_S)
        cell = nb.widget_cells()[0]
        before = nb.output_text(cell["index"])
        assert "→" in before, f"no recommendation shown: {before[:200]!r}"
        element = nb._cell_element(cell["index"])
        boxes = [
            b.find_element(By.CSS_SELECTOR, "input")
            for b in element.find_elements(By.CSS_SELECTOR, ".widget-checkbox")
            if "replay" in b.text.lower()
        ]
        assert boxes, "no 'replay' checkbox in the decision tool"
        nb.press(cell["index"], boxes[0], Keys.SPACE)
        after = nb.output_text(cell["index"])
        pick = [ln for ln in before.splitlines() if "→" in ln][0]
        new = [ln for ln in after.splitlines() if "→" in ln]
        assert new and new[0] != pick, f"recommendation unchanged: {pick!r} -> {new}"
        nb.screenshot(BUILD / f"{lesson}-replay.png", cell["index"])
    finally:
        lab.shutdown_kernels()

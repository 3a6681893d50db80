"""Every lesson with sliders, in JupyterLab in headless Chromium, as a learner runs it.

Run All (the toolbar's restart-and-run-all), wait until the kernel is idle, then: no cell
raised, every widget is a control (not "Error displaying widget", not ``VBox(children=...)``),
and moving a slider with the keyboard brings a new figure each time (the key-to-figure times
are printed at the end of the run). In the decision lesson, changing an input changes the
recommendation (checked in the same run of lesson 12). A screenshot of each lesson's widget
lands in ``build/browser/``.
"""

from __future__ import annotations

import time

import pytest
from conftest import BUILD, SLIDER_TIMES, WIDGET_LESSONS
from labpage import Notebook
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

pytestmark = pytest.mark.brokers

#: The longest Run All of one lesson (the slowest take about 15 s on a quiet machine).
RUN_ALL_TIMEOUT_S = 180
MOVES = 4
#: The slider to move where the first one's next step leaves the figure as it is: lesson 12's
#: fan-out changes the recommendation's reasons, not the loss bars; in lesson 09 min-idle
#: 5 s -> 6 s does not move the lag curve.
DECISION = "12_decision_framework"
SLIDER = {"12_decision_framework": "downtime_s", "09_redis_streams": "down_s"}


def test_the_lessons_with_sliders_are_found():
    """The walk finds the lessons that use `explore(` (a walk finding none would pass all)."""
    assert {"01_two_models", "02_loss", "05_hot_partitions", "07_backpressure",
            "11_observability", "12_decision_framework"} <= set(WIDGET_LESSONS)  # fmt: skip


@pytest.mark.parametrize("lesson", WIDGET_LESSONS)
def test_lesson_runs_and_its_sliders_redraw_the_figure(lesson, lab, driver):
    """... and in lesson 12, changing an input changes the recommendation."""
    nb = Notebook(driver, f"{lesson}.ipynb")
    t0 = time.monotonic()
    nb.open(lab.open_url(f"{lesson}.ipynb"))
    try:
        # opened with its kernel started, the notebook is unchanged (make notebooks wrote the
        # kernel's language_info): a learner closing it is not asked to save
        assert nb.state()["dirty"] is False, f"{lesson} opens marked as modified"
        t1 = time.monotonic()
        run_s = nb.run_all(RUN_ALL_TIMEOUT_S)
        nb.save()  # executed, at the defaults, with widget state: the static site's copy
        assert nb.problems() == []
        widgets = nb.widget_cells()
        assert widgets, f"{lesson}: no widget output after Run All"
        with_slider = [c for c in widgets if c["sliders"]]
        assert with_slider, f"{lesson}: none of its widgets has a slider"
        cell = with_slider[0]
        assert cell["images"] >= 1, f"{lesson}: the widget shows no figure after Run All"
        nb.screenshot(BUILD / f"{lesson}.png", cell["index"])
        t2 = time.monotonic()
        SLIDER_TIMES[lesson] = nb.move_slider(cell["index"], MOVES, SLIDER.get(lesson, ""))
        assert nb.problems() == []
        if lesson == DECISION:
            _the_decision_tool_reacts(nb, cell["index"])
            nb.screenshot(BUILD / f"{lesson}-replay.png", cell["index"])
        print(
            f"{lesson}: open {t1 - t0:.1f} s, Run All {run_s:.1f} s, checks {t2 - t1 - run_s:.1f}"
            f" s, {MOVES} moves {time.monotonic() - t2:.1f} s"
        )
    finally:
        lab.shutdown_kernels()


def _the_decision_tool_reacts(nb: Notebook, index: int) -> None:
    """Lesson 12: ticking "needs replay" with the keyboard changes the recommended tool."""
    before = nb.output_text(index)
    picks = [ln for ln in before.splitlines() if "→" in ln]
    assert picks, f"no recommendation shown: {before[:200]!r}"
    boxes = [
        b.find_element(By.CSS_SELECTOR, "input")
        for b in nb._cell_element(index).find_elements(By.CSS_SELECTOR, ".widget-checkbox")
        if "replay" in b.text.lower()
    ]
    assert boxes, "no 'replay' checkbox in the decision tool"
    nb.press(index, boxes[0], Keys.SPACE)
    new = [ln for ln in nb.output_text(index).splitlines() if "→" in ln]
    assert new and new[0] != picks[0], f"recommendation unchanged: {picks[0]!r} -> {new}"
    print(f"decision tool: {picks[0]!r} -> {new[0]!r} after ticking 'needs_replay'")

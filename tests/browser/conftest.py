"""Fixtures of the browser tests: headless Chromium and a JupyterLab on 127.0.0.1.

The lessons are copied (as ``.ipynb`` without their jupytext pairing) into
``build/browser/lab/``, which JupyterLab serves; the tests run them there, save them with
their outputs and widget state (``make test`` builds the static site from these, so the
lessons are not executed once more for it), and leave screenshots in ``build/browser/``.
A missing Chromium fails the tests with the line that installs it; nothing is skipped.
"""

from __future__ import annotations

import json
import shutil
import statistics
from pathlib import Path

import jupytext
import nbformat
import pytest
from chromium import BrowserMissing, start_chromium
from ipykernel.ipkernel import IPythonKernel
from labserver import free_port, start_lab

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "browser"
LESSONS = sorted(ROOT.glob("notebooks/[0-9][0-9]_*.py"))
#: Lessons whose sliders re-run the simulator (`explore(` from sim.course.widgets).
WIDGET_LESSONS = [p.stem for p in LESSONS if "explore(" in p.read_text(encoding="utf-8")]

#: Slider key-to-figure times (ms) per lesson, printed at the end of the run.
SLIDER_TIMES: dict[str, list[float]] = {}


def write_ipynb(source: Path, target: Path) -> None:
    """The lesson as a plain .ipynb (no jupytext pairing: saving it touches nothing else),
    with the kernel's ``language_info`` as ``make notebooks`` writes it."""
    nb = jupytext.read(source)
    nb.metadata.pop("jupytext", None)
    nb.metadata["language_info"] = IPythonKernel.language_info
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


@pytest.fixture(scope="session")
def driver():
    try:
        browser = start_chromium()
    except BrowserMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    yield browser
    browser.quit()


@pytest.fixture(scope="session")
def lab_root() -> Path:
    root = BUILD / "lab"
    shutil.rmtree(root, ignore_errors=True)
    for old in BUILD.glob("*.png"):  # screenshots of an earlier run
        old.unlink()
    root.mkdir(parents=True)
    for path in LESSONS:
        if path.stem in WIDGET_LESSONS:
            write_ipynb(path, root / f"{path.stem}.ipynb")
    return root


#: The widget manager's JupyterLab extension, which a broken setup may lack.
WIDGET_MANAGER = "@jupyter-widgets/jupyterlab-manager"


@pytest.fixture(scope="session")
def labs(lab_root, tmp_path_factory):
    """The lessons' JupyterLab, and one with the widget manager disabled (for the detector
    test), booted side by side."""
    bare_root = tmp_path_factory.mktemp("no-widget-manager")
    servers = [
        start_lab(lab_root, BUILD / "state", wait=False),
        start_lab(
            bare_root,
            BUILD / "state-no-widgets",
            port=free_port(),
            page_config={"disabledExtensions": {WIDGET_MANAGER: True}},
            wait=False,
        ),
    ]
    try:
        yield [server.wait_ready() for server in servers]
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="session")
def lab(labs):
    return labs[0]


@pytest.fixture(scope="session")
def lab_without_widget_manager(labs):
    return labs[1]


def pytest_terminal_summary(terminalreporter):
    if not SLIDER_TIMES:
        return
    terminalreporter.section("slider move -> new figure (keyboard, headless Chromium)")
    rows = {}
    for lesson, times in sorted(SLIDER_TIMES.items()):
        med = statistics.median(times)
        rows[lesson] = {"median_ms": round(med), "moves_ms": [round(t) for t in times]}
        terminalreporter.write_line(
            f"{lesson:26} median {med:6.0f} ms   moves: " + ", ".join(f"{t:.0f}" for t in times)
        )
    BUILD.mkdir(parents=True, exist_ok=True)
    (BUILD / "slider-times.json").write_text(json.dumps(rows, indent=1))

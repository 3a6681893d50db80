"""An nbval plugin: the exercise check (:mod:`tests.course.exercise_check`) on nbval's run.

Each lesson executes once in ``make nbval``; this plugin adds, after the last cell of every
notebook that ends with the exercise probe, one more test item (``<lesson>::exercises``)
that reads what nbval's cells printed in that run and applies
:func:`tests.course.exercise_check.check_lesson`. Loaded with
``pytest -p tests.course.nbval_exercises --nbval-lax build/nbval`` (see the Makefile).

With ``--nbval-save-executed DIR`` the item first writes the lesson as it ran
(``DIR/<lesson>.ipynb``: the lesson's cells with nbval's outputs, the probe left out), so
that the static site (``scripts/build_site.py --executed DIR``) need not execute it again.
nbval keeps no widget state: a copy with a widget view is used by the site only when the
view's state is there, i.e. not at all (those lessons come from the browser tests' run).

A notebook without the probe gets no such item; a cell that failed in nbval (an error, a
timeout, outputs that differ) fails the item too, naming the cell: the check needs a lesson
that ran to its end.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import IPyNbCell

from tests.course.exercise_check import check_lesson, is_probe, texts

#: The node ids of the cells that failed in this session.
FAILED = pytest.StashKey[set]()


class ExerciseCheck(pytest.Item):
    """The exercise check of one notebook, run after its cells (same kernel, same outputs)."""

    def __init__(self, *, cells: list, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cells = cells

    def runtest(self) -> None:
        failed = self.config.stash.get(FAILED, set())
        unfinished = [
            c.cell_num for c in self.cells if c.nodeid in failed or c.test_outputs is None
        ]
        assert not unfinished, f"cells {unfinished} failed or did not run: nothing to check"
        if folder := self.config.getoption("nbval_save_executed"):
            save_executed(self.parent.nb, self.cells, Path(folder) / self.parent.path.name)
        lesson, probe = [], []
        for item in self.cells:
            found = texts(item.test_outputs)
            if is_probe(item.cell):
                probe.extend(found)
            else:
                lesson.extend((item.cell_num, t) for t in found)
        stem = self.parent.path.stem
        count = check_lesson(stem, lesson, probe)
        self.user_properties.append(("exercises", count))

    def reportinfo(self):
        return self.path, None, f"{self.parent.path.name}::exercises"


def save_executed(nb: nbformat.NotebookNode, cells: list, target: Path) -> None:
    """Write ``nb`` with each code cell's outputs from nbval's run, the probe left out."""
    ran = copy.deepcopy(nb)
    code = [c for c in ran.cells if c.cell_type == "code"]
    for count, (cell, item) in enumerate(zip(code, cells, strict=True), start=1):
        cell.execution_count = count
        cell.outputs = [nbformat.from_dict(dict(o)) for o in item.test_outputs]
        for out in cell.outputs:
            if out.output_type == "execute_result":
                out.execution_count = count
            if out.output_type in ("execute_result", "display_data"):
                out.setdefault("metadata", {})
    ran.cells = [c for c in ran.cells if not is_probe(c)]
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(ran, target)


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--nbval-save-executed",
        metavar="DIR",
        help="write each lesson as nbval ran it to DIR/<lesson>.ipynb (for the static site)",
    )


def pytest_collection_modifyitems(session, config, items) -> None:
    by_file: dict = {}
    for item in items:
        if isinstance(item, IPyNbCell):
            by_file.setdefault(item.parent, []).append(item)
    for nbfile, cells in by_file.items():
        if not any(is_probe(c.cell) for c in cells):
            continue
        check = ExerciseCheck.from_parent(nbfile, name="exercises", cells=cells)
        items.insert(items.index(cells[-1]) + 1, check)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        item.config.stash.setdefault(FAILED, set()).add(item.nodeid)
    return report

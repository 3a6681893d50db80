"""Reference outputs for the lessons' checked cells, so nbval really compares them.

nbval compares a cell's new output with the output stored in the ``.ipynb`` -- but only when
the stored cell was run (``execution_count`` set); an unrun reference cell is not compared.
The lessons are kept as jupytext ``.py`` files and their ``.ipynb`` are made without
outputs (a learner must predict before a cell shows a number), so a checked cell
(a ``# NBVAL_CHECK_OUTPUT`` comment or an ``nbval-check-output`` tag) would compare with
nothing and could never fail.

This module keeps the checked cells' outputs in ``tests/course/references/<lesson>.json``
and writes, for nbval only, a copy of each lesson with those outputs filled in
(``build/nbval/<lesson>.ipynb``); the learner's ``notebooks/*.ipynb`` stay without outputs.
Each copy ends with the exercise probe (:mod:`exercise_check`), so that nbval's one run of
a lesson also serves the Run-All-reveals-no-answer check (:mod:`nbval_exercises`).

    python tests/course/nbval_references.py prepare build/nbval   # before nbval (make nbval)
    python tests/course/nbval_references.py update [LESSON ...]   # a deliberate change

``update`` executes the lessons (real brokers needed) and stores what the checked cells
printed; say why in the commit. ``prepare`` refuses a lesson whose checked cells no longer
match its references (count or first line), naming the lesson and the command to run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import jupytext
import nbformat
from exercise_check import probe_cell  # a sibling: this file runs as a script too

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
REFERENCES = Path(__file__).resolve().parent / "references"
MARK = "NBVAL_CHECK_OUTPUT"
TAG = "nbval-check-output"
#: Output fields nbval compares in lax mode; metadata and execution counts are not stored.
KEEP = ("output_type", "name", "text", "data")
#: The folder under the output folder where the Makefile has nbval save the lessons as they ran.
EXECUTED = "executed"


class StaleReferences(RuntimeError):
    """A lesson's checked cells differ from its stored references."""


def lessons() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def checked(cell: nbformat.NotebookNode) -> bool:
    """A code cell nbval compares: the tag, or the marker comment on a line of its own."""
    if cell.cell_type != "code":
        return False
    tags = cell.get("metadata", {}).get("tags", [])
    return TAG in tags or any(line.strip() == f"# {MARK}" for line in cell.source.splitlines())


def _head(cell: nbformat.NotebookNode) -> str:
    """The first line of the cell that is not the marker: what a reference is matched by."""
    lines = [ln for ln in cell.source.splitlines() if ln.strip() and MARK not in ln]
    return lines[0] if lines else ""


def _plain(output: nbformat.NotebookNode) -> dict:
    kept = {k: output[k] for k in KEEP if k in output}
    if "data" in kept:  # images and widget views are not compared (nbval's lax default)
        kept["data"] = {m: v for m, v in kept["data"].items() if m.startswith("text/")}
    return kept


def reference_path(lesson: Path, references: Path = REFERENCES) -> Path:
    return references / f"{lesson.stem}.json"


def update(paths: list[Path], timeout_s: int = 600) -> None:
    """Execute each lesson and store its checked cells' outputs (real brokers needed)."""
    from sim.course.headless import execute

    REFERENCES.mkdir(exist_ok=True)
    for path in paths:
        nb = execute(jupytext.read(path), path.parent, timeout_s=timeout_s)
        cells = [
            {"head": _head(c), "outputs": [_plain(o) for o in c.outputs]}
            for c in nb.cells
            if checked(c)
        ]
        reference_path(path).write_text(json.dumps({"cells": cells}, indent=1) + "\n")
        print(f"{path.stem}: {len(cells)} checked cells stored")


def with_references(path: Path, references: Path = REFERENCES) -> nbformat.NotebookNode:
    """The lesson as a notebook whose checked cells hold their reference outputs."""
    nb = jupytext.read(path)
    ref = reference_path(path, references)
    cells = [c for c in nb.cells if checked(c)]
    stored = json.loads(ref.read_text())["cells"] if ref.exists() else []
    heads = [_head(c) for c in cells]
    if heads != [s["head"] for s in stored]:
        raise StaleReferences(
            f"{path.stem}: its {len(cells)} checked cells do not match the {len(stored)} "
            f"stored in {ref} (first lines {heads} vs "
            f"{[s['head'] for s in stored]}). If the change is deliberate, run "
            f"`.venv/bin/python tests/course/nbval_references.py update {path.stem}` "
            "with the brokers up (`make up`)."
        )
    for count, (cell, s) in enumerate(zip(cells, stored, strict=True), start=1):
        cell.execution_count = count
        cell.outputs = [nbformat.from_dict(o) for o in s["outputs"]]
    return nb


def prepare(out_dir: Path, paths: list[Path], references: Path = REFERENCES) -> list[Path]:
    """Write each lesson with its references and the exercise probe into ``out_dir`` (for
    nbval); return the paths. The lessons of an earlier run go first, and so do the copies it
    executed (``out_dir/executed``): pytest, given ``out_dir``, would collect those and run
    every lesson twice."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.ipynb"):
        old.unlink()
    shutil.rmtree(out_dir / EXECUTED, ignore_errors=True)
    written = []
    for path in paths:
        target = out_dir / f"{path.stem}.ipynb"
        nb = with_references(path, references)
        nb.cells.append(probe_cell())
        nbformat.write(nb, target)
        written.append(target)
    return written


def _select(names: list[str]) -> list[Path]:
    every = lessons()
    if not names:
        return every
    chosen = [p for p in every if any(p.stem.startswith(n) for n in names)]
    unknown = [n for n in names if not any(p.stem.startswith(n) for p in every)]
    if unknown:
        raise SystemExit(f"no lesson named {unknown}; lessons: {[p.stem for p in every]}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="write the lessons with references for nbval")
    prep.add_argument("out_dir", type=Path)
    up = sub.add_parser("update", help="execute lessons and store their checked outputs")
    up.add_argument("lessons", nargs="*", help="lesson name prefixes (default: all)")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        try:
            written = prepare(args.out_dir, lessons())
        except StaleReferences as exc:
            print(f"nbval references: {exc}", file=sys.stderr)
            return 1
        print(f"nbval references: {len(written)} lessons written to {args.out_dir}")
        return 0
    update(_select(args.lessons))
    return 0


if __name__ == "__main__":
    sys.exit(main())

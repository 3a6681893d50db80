"""The lessons' checked cells are compared with stored outputs (see ``nbval_references``):
every lesson's references match its checked cells, and nbval fails on a checked cell whose
output differs from its reference -- it would pass on anything without them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from nbval_references import EXECUTED, StaleReferences, checked, lessons, prepare, with_references

LESSON = """# %%
print("warm-up")  # not checked

# %% tags=["nbval-check-output"]
print(6 * 7)
"""


def test_every_lesson_has_references_for_its_checked_cells():
    counts = {p.stem: sum(map(checked, with_references(p).cells)) for p in lessons()}
    assert counts and all(counts.values()), f"lessons that check no output: {counts}"


def _nbval(tmp_path: Path, printed: str) -> subprocess.CompletedProcess:
    source = tmp_path / "src" / "99_check.py"
    source.parent.mkdir()
    source.write_text(LESSON)
    refs = tmp_path / "refs"
    refs.mkdir()
    output = {"output_type": "stream", "name": "stdout", "text": printed}
    cell = {"head": "print(6 * 7)", "outputs": [output]}
    (refs / "99_check.json").write_text(json.dumps({"cells": [cell]}))
    [nb] = prepare(tmp_path / "out", [source], refs)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", str(nb)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_prepare_removes_the_lessons_an_earlier_run_executed(tmp_path):
    source = tmp_path / "99_check.py"
    source.write_text(LESSON)
    refs = tmp_path / "refs"
    refs.mkdir()
    output = {"output_type": "stream", "name": "stdout", "text": "42\n"}
    (refs / "99_check.json").write_text(
        json.dumps({"cells": [{"head": "print(6 * 7)", "outputs": [output]}]})
    )
    stale = tmp_path / "out" / EXECUTED / "99_check.ipynb"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    written = prepare(tmp_path / "out", [source], refs)
    assert [p.name for p in written] == ["99_check.ipynb"]
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.ipynb")) == ["99_check.ipynb"]


def test_nbval_passes_when_the_output_matches_its_reference(tmp_path):
    run = _nbval(tmp_path, "42\n")
    assert run.returncode == 0, run.stdout[-2000:]


def test_nbval_fails_when_a_checked_output_differs_from_its_reference(tmp_path):
    run = _nbval(tmp_path, "41\n")
    assert run.returncode == 1 and "Cell outputs differ" in run.stdout, run.stdout[-2000:]


def test_a_checked_cell_without_its_reference_is_refused_with_the_command_to_run(tmp_path):
    source = tmp_path / "99_check.py"
    source.write_text(LESSON)
    with pytest.raises(StaleReferences, match=r"99_check: its 1 checked cells .* update 99_check"):
        with_references(source, tmp_path)

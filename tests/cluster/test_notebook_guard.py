"""A failing experiment cell does not turn a lesson into a cascade of NameErrors.

:class:`labs.attempt.Attempt` keeps why an experiment did not run; the durability notebook's
later cells ask it and print ``compare did not run: <reason>`` instead of failing on the
missing ``results``. Checked by executing the notebook's own cells, in order, with the lab's
``compare`` failing the way issue 12 saw it fail. No broker is needed.
"""

from __future__ import annotations

import contextlib
import io

import jupytext
import pytest

from labs.attempt import Attempt, NotRun
from labs.stack import config
from labs.stack.prereqs import StackError

WHY = "partition 0 of course-durability-x has no full ISR in time"


def _boom(**kwargs):
    raise StackError(WHY)


def test_a_failed_attempt_says_why_instead_of_having_no_value(capsys):
    attempt = Attempt("compare", _boom, schedule="frozen-followers-short")
    assert not attempt.ran()
    assert capsys.readouterr().out == "compare did not run: its cell has not been run yet\n"
    with pytest.raises(StackError, match="no full ISR"):  # the cell itself still fails
        attempt.run()
    assert not attempt.ok and not attempt.ran()
    assert capsys.readouterr().out == f"compare did not run: StackError: {WHY}\n"
    with pytest.raises(NotRun, match=f"compare did not run: StackError: {WHY}"):
        _ = attempt.value
    assert "did not run" in repr(attempt)


def test_a_successful_attempt_gives_its_value_and_prints_nothing(capsys):
    attempt = Attempt("sum", lambda **kw: sum(kw.values()), a=1, b=2)
    assert attempt.run() == 3 and attempt.ran() and attempt.value == 3 and attempt.ok
    assert capsys.readouterr().out == ""


def test_the_durability_notebook_after_a_failed_experiment(monkeypatch):
    from labs import durability

    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setattr(durability, "compare", _boom)
    nb = jupytext.read(config.PROJECT_ROOT / "notebooks" / "13_durability.py")
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    namespace: dict = {}
    outputs: list[str] = []
    failed: list[str] = []
    for source in cells:
        code = "\n".join(x for x in source.splitlines() if not x.startswith("%"))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                exec(compile(code, "<cell>", "exec"), namespace)
            except StackError:
                failed.append(source)
        outputs.append(out.getvalue())
    # exactly one cell failed: the experiment's own, with the real reason
    assert len(failed) == 1 and "experiment.run()" in failed[0]
    said = [o for o in outputs if f"compare did not run: StackError: {WHY}" in o]
    # every cell that reads the results said why it could not (6 of them) ...
    assert len(said) >= 6, outputs
    # ... the twin's cell too (it ran the simulator, and says why it has nothing to compare),
    twin = [o for c, o in zip(cells, outputs, strict=True) if "for acks in (1, " in c]
    assert twin and f"compare did not run: StackError: {WHY}" in twin[0], outputs
    # ... and the cells that need no results ran as usual
    assert any("eligible leader replicas True" in o for o in outputs), outputs

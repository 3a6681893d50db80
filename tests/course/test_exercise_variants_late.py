"""Every learner's variant of a simulated exercise of lessons 07-12 accepts its own solution.

:mod:`labs.exercises.late` picks each learner's parameters from a tuple of choices; the
notebook test runs one learner's choice. Here every choice is built with the lesson's own
simulator function (read from the lesson, not copied) and its ``solution`` -- the theory a
learner reasons with -- must check correct against the simulator. Offline: no broker.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from labs.exercises import late

ROOT = Path(__file__).resolve().parents[2]


def _lesson_function(lesson: str, name: str):
    """``def name`` of ``notebooks/<lesson>.py``, run with the lesson's imports."""
    tree = ast.parse((ROOT / "notebooks" / f"{lesson}.py").read_text(encoding="utf-8"))
    keep = [
        node
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        or (isinstance(node, ast.FunctionDef) and node.name == name)
    ]
    namespace: dict = {}
    exec(compile(ast.Module(keep, type_ignores=[]), lesson, "exec"), namespace)
    if name not in namespace:
        raise AssertionError(f"notebooks/{lesson}.py defines no function {name}")
    return namespace[name]


CASES = [
    (
        "07",
        lambda: late.backpressure_lag(_lesson_function("07_backpressure", "backpressure")),
        late._BACKPRESSURE,
    ),
    ("10", lambda: late.hybrid_missed(_lesson_function("10_hybrid", "hybrid")), late._HYBRID),
    (
        "11",
        lambda: late.alert_fire_time(_lesson_function("11_observability", "slowdown")),
        late._SLOW_FACTORS,
    ),
    ("12", late.choose_tool, late._EVENTS),
]


@pytest.mark.parametrize(("lesson", "build", "choices"), CASES, ids=[c[0] for c in CASES])
def test_every_variant_accepts_its_solution(monkeypatch, lesson, build, choices):
    wrong = []
    for choice in choices:
        monkeypatch.setattr(late, "for_learner", lambda key, options, choice=choice: choice)
        ex = build()
        if not ex.check(ex.solution).correct:
            wrong.append((choice, ex.solution, ex.expected_value()))
        if ex.check("surely wrong").correct:
            wrong.append((choice, "a wrong answer checked correct"))
    assert not wrong, f"lesson {lesson}: (parameters, solution, simulated) that fail: {wrong}"

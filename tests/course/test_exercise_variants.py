"""Every learner's variant of a simulated exercise accepts its own worked solution.

The lessons' exercises take their parameters from :data:`labs.exercises.early.CHOICES`,
one set per learner; the notebook test runs one learner's set. Here every combination of
the simulator-checked exercises (01 to 05) is built and its ``solution`` (the
theory a learner reasons with) must check correct against the simulator, so no learner gets
an exercise whose right answer is marked wrong. The scenarios are read from the lessons
(their literal dicts), not copied. Offline: no broker.
"""

from __future__ import annotations

import ast
import functools
import itertools
from pathlib import Path

import pytest

import sim
from labs.exercises import early

ROOT = Path(__file__).resolve().parents[2]


def _lesson_dict(lesson: str, name: str) -> dict:
    """The literal ``name = {...}`` of ``notebooks/<lesson>.py``."""
    tree = ast.parse((ROOT / "notebooks" / f"{lesson}.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [
            name
        ]:
            return ast.literal_eval(node.value)
    raise AssertionError(f"notebooks/{lesson}.py assigns no literal {name} = {{...}}")


@functools.cache
def _hot_partition_run() -> sim.Result:
    return sim.run(sim.load("hot_partition"), seed=1)  # lesson 05's cell "skewed keys"


def _variants(*keys: str) -> list[dict]:
    values = [early.CHOICES[k] for k in keys]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


CASES = [
    (
        "01",
        lambda: early.subscriber_loss(_lesson_dict("01_two_models", "ten_minutes")),
        _variants("01-subscriber-loss/rate", "01-subscriber-loss/minutes"),
    ),
    (
        "02",
        lambda: early.deploy_loss(_lesson_dict("02_loss", "minute")),
        _variants("02-deploy-loss/rate", "02-deploy-loss/period", "02-deploy-loss/down"),
    ),
    (
        "03",
        lambda: early.bootstrap_loss(sim.load("new_service_bootstrap")),
        _variants("03-bootstrap-loss"),
    ),
    (
        "04",
        lambda: early.partitions_per_key(_lesson_dict("04_ordering", "accounts")),
        _variants("04-partitions-per-key"),
    ),
    (
        "05",
        lambda: early.hot_partition_limit(_hot_partition_run()),
        _variants("05-hot-partition-limit"),
    ),
]


@pytest.mark.parametrize(("lesson", "build", "variants"), CASES, ids=[c[0] for c in CASES])
def test_every_variant_accepts_its_solution(monkeypatch, lesson, build, variants):
    wrong = []
    for chosen in variants:
        monkeypatch.setattr(early, "_pick", chosen.__getitem__)
        ex = build()
        verdict = ex.check(ex.solution)
        if not verdict.correct:
            wrong.append((chosen, ex.solution, ex.expected_value()))
    assert not wrong, f"lesson {lesson}: (parameters, solution, simulated) that fail: {wrong}"

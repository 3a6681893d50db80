"""The examples in the simulator's docstrings run (docs that cannot rot).

Every module of ``sim`` whose docstrings hold examples is listed here and run; a listed
module without examples fails (no vacuous pass), and a module with examples that is not
listed fails too, so no example is ever skipped.
"""

import doctest
import importlib
import pkgutil

import pytest

import sim

MODULES = [
    "sim",
    "sim.analysis.compare",
    "sim.analysis.gaps",
    "sim.core.distributions",
    "sim.core.scenario",
    "sim.course.decision.events_file",
    "sim.course.decision.recommend",
    "sim.course.decision.record",
    "sim.course.decision.settings",
    "sim.models.assignors",
    "sim.models.client_cache",
    "sim.models.dlq",
    "sim.models.replication",
    "sim.models.request_cycles",
    "sim.models.tail_fit",
    "sim.models.streams",
    "sim.models.throughput",
]


def _examples(module) -> int:
    tests = doctest.DocTestFinder().find(module, module.__name__)
    return sum(len(t.examples) for t in tests if t.name.startswith(module.__name__))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no docstring examples: drop it from MODULES"
    assert result.failed == 0


def test_every_module_with_examples_is_listed():
    names = ["sim"] + [m.name for m in pkgutil.walk_packages(sim.__path__, "sim.")]
    with_examples = sorted(n for n in names if _examples(importlib.import_module(n)) > 0)
    assert with_examples == sorted(MODULES)

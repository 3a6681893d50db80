"""The examples in the simulator's docstrings run (docs that cannot rot)."""

import doctest
import importlib

import pytest

MODULES = ["sim", "sim.core.scenario", "sim.core.distributions", "sim.core.queue"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failed, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failed == 0

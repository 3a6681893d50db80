"""Every experiment, walked: its declaration is the one source of its parameters.

For each declared parameter: the default is valid; ``python -m labs list``, ``--help``, the
twins and the notebook widgets show the declared range; a value just outside the range (or
a wrong choice) is refused -- by the lab function, the command line and the twin -- with
the parameter's name in the message. No brokers needed: every refusal happens before a lab
touches one.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from labs.__main__ import build_parser, list_labs
from labs.__main__ import main as labs_main
from labs.experiments import EXPERIMENTS, Timing
from labs.experiments.lessons import CONTROLS
from labs.params import Param, Params
from labs.twins.cli import list_twins
from labs.twins.registry import TWINS

LABS = sorted(EXPERIMENTS)
PARAMS = [(e, p.name) for e in LABS for p in EXPERIMENTS[e].params]
TWIN_PARAMS = [(t, p.name) for t in sorted(TWINS) for p in TWINS[t].PARAMS]


def outside(p: Param) -> list:
    """Values just outside the declared range, or not among the choices."""
    if p.type is bool:
        return ["yes", 1]
    if p.choices:
        return ["no-such-choice"]
    eps = 1 if p.type is int else max(1e-6, 1e-6 * abs(p.high))
    return [p.low - eps, p.high + eps]


def cli_outside(p: Param) -> list[str]:
    """The same on a command line ("yes" and "1" are true there)."""
    return ["maybe"] if p.type is bool else [str(v) for v in outside(p)]


@pytest.mark.parametrize("name", LABS)
def test_defaults_are_valid_and_every_lab_is_complete(name):
    exp = EXPERIMENTS[name]
    assert exp.resolve() == exp.defaults()
    assert callable(exp.run) and exp.run.__name__ == f"run_{name}"
    assert exp.lesson and exp.summary
    for twin_name, (_, params) in exp.twins.items():
        assert TWINS[twin_name].PARAMS is params
        assert TWINS[twin_name].EXPERIMENT is exp
        assert params.resolve({}) == params.defaults()
    if exp.scenario is not None:
        assert exp.build_scenario(Timing()).workload.keys == exp.defaults()["num_keys"]


@pytest.mark.parametrize(("name", "pname"), PARAMS)
def test_the_lab_refuses_a_value_just_outside(name, pname):
    exp = EXPERIMENTS[name]
    for bad in outside(exp.params[pname]):
        with pytest.raises(ValueError, match=f'"{pname}"'):
            exp.run(**(exp.defaults() | {pname: bad}))


@pytest.mark.parametrize(("name", "pname"), PARAMS)
def test_the_cli_shows_and_enforces_the_declared_range(name, pname, capsys):
    p = EXPERIMENTS[name].params[pname]
    assert p.describe() in list_labs()
    sub = build_parser()._subparsers._group_actions[0].choices["run"]
    action = next(
        a for a in sub._subparsers._group_actions[0].choices[name]._actions if a.dest == pname
    )
    assert p.describe() in action.help and f"--{pname}" in action.option_strings
    for bad in cli_outside(p):
        with pytest.raises(SystemExit) as exc:
            labs_main(["run", name, f"--{pname}", bad])
        assert exc.value.code == 2
        assert pname in capsys.readouterr().err


@pytest.mark.parametrize(("name", "pname"), PARAMS)
def test_the_widget_shows_the_declared_range(name, pname):
    p = EXPERIMENTS[name].params[pname]
    w = p.widget()
    if p.type is bool:
        assert w.value is p.default
    elif p.choices:
        assert list(w.options) == list(p.choices) and w.value == p.default
    else:
        assert (w.min, w.max, w.value) == (p.low, p.high, p.default)
        if p.step:
            assert math.isclose(w.step, p.step)
    if p.type in (int, float):  # a lesson may narrow a slider, never widen it
        with pytest.raises(ValueError, match=f'"{pname}"'):
            p.widget(high=p.high + 1)
    elif p.choices:
        with pytest.raises(ValueError, match=f'"{pname}"'):
            p.widget(choices=("x",))


@pytest.mark.parametrize(("twin", "pname"), TWIN_PARAMS)
def test_the_twin_shows_and_enforces_its_declared_range(twin, pname, capsys):
    from labs.twins.cli import main as twin_main

    cls = TWINS[twin]
    p = cls.PARAMS[pname]
    lab_p = cls.EXPERIMENT.params[pname]
    if p.type in (int, float):  # a twin narrows its lab's range, never widens it
        assert lab_p.low <= p.low <= p.high <= lab_p.high
    assert p.describe() in list_twins()
    for bad in outside(p):
        with pytest.raises(ValueError, match=f'"{pname}"'):
            cls(**{pname: bad})
    for bad in cli_outside(p):
        with pytest.raises(SystemExit) as exc:
            twin_main(["twin", twin, f"--{pname}", bad])
        assert exc.value.code == 2
        assert pname in capsys.readouterr().err


@pytest.mark.parametrize("twin", sorted(TWINS))
def test_each_end_of_a_range_works_with_the_other_defaults(twin):
    """Each end of each range, with the other parameters left at their defaults, is
    accepted -- defaults bounded by it follow it (the issue's ``labs twin loss --rate_per_s
    500``: "service_rate_per_s" must be in [750, 2000], got 400.0) -- or refused only
    because of a bound between parameters that the message names."""
    cls = TWINS[twin]
    for p in cls.PARAMS:
        if p.type not in (int, float):
            continue
        for v in (p.low, p.high):
            try:
                t = cls(**{p.name: v})
            except ValueError as exc:
                bounded = [b for b in cls.PARAMS.bounds if b.why in str(exc)]
                assert bounded, exc
                continue
            assert getattr(t, p.name) == v
    assert TWINS["loss"](rate_per_s=500.0).service_rate_per_s == 750.0


def test_derived_bounds_say_which_value_set_them():
    loss = EXPERIMENTS["loss"]
    with pytest.raises(ValueError, match=r'"down_for_s" must be in \[0.05, 3\] s \(the outage'):
        loss.resolve(down_from_s=1.0, down_for_s=3.5)
    with pytest.raises(ValueError, match=r"at least 1.1 x rate_per_s"):
        loss.resolve(rate_per_s=1000.0, service_rate_per_s=500.0)
    # a default moves with the value that bounds it; a given value never does
    assert loss.resolve(rate_per_s=1000.0)["service_rate_per_s"] == 1100.0


def test_declarations_refuse_bad_declarations():
    with pytest.raises(ValueError, match='"x"'):
        Param("x", 11, "a number", 0, 10)  # the default outside its own range
    with pytest.raises(ValueError, match="unknown parameter"):
        from labs.params import Bound

        Params((Param("x", 1, "a number", 0, 10),), (Bound("y", "why", high=lambda v: 1),))


CONTROLS_PARAMS = [(lesson, p.name) for lesson, ps in CONTROLS.items() for p in ps]


@pytest.mark.parametrize(("lesson", "pname"), CONTROLS_PARAMS)
def test_lesson_controls_show_their_declared_range(lesson, pname):
    p = CONTROLS[lesson][pname]
    w = p.widget()
    if p.type is bool:
        assert w.value is p.default
    elif p.choices:
        assert list(w.options) == list(p.choices) and w.value == p.default
    else:
        assert (w.min, w.max, w.value) == (p.low, p.high, p.default)
    for bad in outside(p):
        with pytest.raises(ValueError, match=f'"{pname}"'):
            p.check(bad)


NOTEBOOKS = sorted(Path(__file__).resolve().parents[2].glob("notebooks/[0-9][0-9]_*.py"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_controls_come_from_declarations(path):
    """No notebook builds a slider, dropdown or checkbox by hand: every control is a
    declared parameter's ``widget()``; lessons with simulator-only controls have them
    in :data:`labs.experiments.lessons.CONTROLS`."""
    text = path.read_text(encoding="utf-8")
    hand_made = re.findall(r"\b(?:IntSlider|FloatSlider|Dropdown|Checkbox|SelectionSlider)\(", text)
    assert not hand_made, f"{path.name} builds {hand_made}; declare the parameter instead"
    if "explore(" in text:
        assert ".widget(" in text or ".widgets(" in text
    if f'CONTROLS["{path.stem}"]' in text:
        assert path.stem in CONTROLS


@pytest.mark.parametrize("module", ["labs.params", "labs.experiments"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    failures, tried = doctest.testmod(importlib.import_module(module))
    assert tried and failures == 0

"""Parameters declared once: name, default, range or choices, step, unit and meaning.

A :class:`Param` is one keyword parameter of an experiment. It checks a value
(:meth:`Param.check` raises ``ValueError`` naming the parameter and its range), describes
itself for the command line (:meth:`Param.describe`) and builds the notebook control
(:meth:`Param.widget`, an ipywidgets slider, dropdown or checkbox whose min, max, step and
value come from the declaration).

A :class:`Params` is the parameter set of one experiment: the parameters in order plus the
:class:`Bound` s that depend on other values (a consumer that must be faster than the
publisher, an outage that must end inside the window). :meth:`Params.resolve` fills in
defaults, rejects unknown names and checks every value, fixed ranges first, then the
derived ones -- whose error says which other parameter set the limit. A default that
another given value puts out of range moves to the nearest allowed value (the loss lab's
consumer rate follows a higher publish rate); a given value never moves.

>>> rate = Param("rate_per_s", 200.0, "messages published per second", 1, 2000, unit="msg/s")
>>> rate.check(5000.0)
Traceback (most recent call last):
...
ValueError: "rate_per_s" must be in [1, 2000] msg/s, got 5000.0.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


def check_range(name: str, value: float, low: float, high: float) -> None:
    """Raise ``ValueError`` unless ``low <= value <= high``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f'"{name}" must be a number in [{low:g}, {high:g}], got {value!r}.')
    if not low <= value <= high:
        raise ValueError(f'"{name}" must be in [{low:g}, {high:g}], got {value!r}.')


def check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f'"{name}" must be one of {tuple(choices)}, got {value!r}.')


@dataclass(frozen=True)
class Param:
    """One parameter: ``default`` fixes its type (bool, int, float or str); numbers have a
    closed range ``[low, high]`` and a slider ``step`` (or a tuple of ``choices``), strings a
    tuple of ``choices``."""

    name: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    step: float | None = None
    unit: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        if self.type in (int, float) and not self.choices and None in (self.low, self.high):
            raise ValueError(f'Param "{self.name}": a number needs "low" and "high" or "choices".')
        if self.type is str and not self.choices:
            raise ValueError(f'Param "{self.name}": a string needs "choices".')
        self.check(self.default)  # every default is valid

    @property
    def type(self) -> type:
        return type(self.default)

    def range_text(self, low: float | None = None, high: float | None = None) -> str:
        lo = self.low if low is None else low
        hi = self.high if high is None else high
        unit = f" {self.unit}" if self.unit else ""
        if self.type is int and float(lo).is_integer() and float(hi).is_integer():
            return f"[{int(lo)}, {int(hi)}]{unit}"
        return f"[{lo:g}, {hi:g}]{unit}"

    def check(
        self, value: Any, *, low: float | None = None, high: float | None = None, why: str = ""
    ) -> Any:
        """``value`` if allowed (an int for an int parameter given as 3.0), else
        ``ValueError`` naming the parameter and its range (``low``/``high`` override the
        declared bounds when they depend on other values; ``why`` says how)."""
        because = f" ({why})" if why else ""
        if self.type is bool:
            if not isinstance(value, bool):
                raise ValueError(f'"{self.name}" must be true or false, got {value!r}.')
            return value
        if self.choices:
            if isinstance(value, bool) or value not in self.choices:
                raise ValueError(f'"{self.name}" must be one of {self.choices}, got {value!r}.')
            return value
        lo = self.low if low is None else low
        hi = self.high if high is None else high
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(
                f'"{self.name}" must be a number in {self.range_text(lo, hi)}{because}, '
                f"got {value!r}."
            )
        if math.isnan(value) or not lo <= value <= hi:
            raise ValueError(
                f'"{self.name}" must be in {self.range_text(lo, hi)}{because}, got {value!r}.'
            )
        if self.type is int:
            if float(value) != int(value):
                raise ValueError(f'"{self.name}" must be a whole number, got {value!r}.')
            return int(value)
        return float(value)

    def describe(self) -> str:
        """``allowed: meaning`` for ``python -m labs list`` and ``--help``."""
        if self.choices:
            allowed = "|".join(str(c) for c in self.choices)
        elif self.type is bool:
            allowed = "true|false"
        elif self.type is int:
            allowed = f"{int(self.low)}..{int(self.high)}"
        else:
            allowed = f"{self.low:g}..{self.high:g}"
        unit = f" {self.unit}" if self.unit else ""
        return f"{allowed}{unit}: {self.help}"

    def narrow(self, **changes: Any) -> Param:
        """This parameter with a narrower range, other choices, step or default; a range
        or choice outside the declared one is an error (narrowing only)."""
        new = dataclasses.replace(self, **changes)
        if self.low is not None and not self.low <= new.low <= new.high <= self.high:
            raise ValueError(
                f'"{self.name}": [{new.low:g}, {new.high:g}] is not inside the declared '
                f"{self.range_text()}."
            )
        if self.choices and not set(new.choices) <= set(self.choices):
            raise ValueError(f'"{self.name}": {new.choices} are not among {self.choices}.')
        return new

    def widget(
        self,
        description: str | None = None,
        *,
        options: Sequence[tuple[str, Any]] | None = None,
        **narrow: Any,
    ):
        """The ipywidgets control for this parameter: an ``IntSlider`` / ``FloatSlider``
        (min, max, step and value from the declaration), a ``Dropdown`` of the choices (or
        of labelled ``options``, each checked against the range) or a ``Checkbox``.
        ``narrow`` may restrict it for a lesson (``low``, ``high``, ``step``, ``default``,
        ``choices``), never widen it."""
        import ipywidgets as w

        p = self.narrow(**narrow) if narrow else self
        label = description or (f"{p.name} ({p.unit})" if p.unit else p.name)
        if options is not None:
            checked = [(text, p.check(value)) for text, value in options]
            value = p.default if p.default in [v for _, v in checked] else checked[0][1]
            return w.Dropdown(options=checked, value=value, description=label)
        if p.type is bool:
            return w.Checkbox(value=p.default, description=label)
        if p.choices:
            return w.Dropdown(options=list(p.choices), value=p.default, description=label)
        if p.type is int:
            step = int(p.step or 1)
            return w.IntSlider(
                value=p.default, min=int(p.low), max=int(p.high), step=step, description=label
            )
        step = p.step or (p.high - p.low) / 100
        return w.FloatSlider(value=p.default, min=p.low, max=p.high, step=step, description=label)


@dataclass(frozen=True)
class Bound:
    """A range of ``param`` that depends on other values: ``low(values)`` and/or
    ``high(values)``; ``why`` says where the limit comes from (shown in the error)."""

    param: str
    why: str
    low: Callable[[Mapping[str, Any]], float] | None = None
    high: Callable[[Mapping[str, Any]], float] | None = None


@dataclass(frozen=True)
class Params:
    """The parameters of one experiment, in order, and the bounds between them."""

    params: tuple[Param, ...]
    bounds: tuple[Bound, ...] = field(default=())

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        for b in self.bounds:
            if b.param not in names:
                raise ValueError(f'Bound on unknown parameter "{b.param}"; have {names}.')
        self.resolve({})  # the defaults satisfy every bound too

    def __iter__(self) -> Iterator[Param]:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def __contains__(self, name: object) -> bool:
        return any(p.name == name for p in self.params)

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"no parameter {name!r}; parameters are {self.names}")

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def ranges(self, values: Mapping[str, Any] | None = None) -> dict[str, tuple[float, float]]:
        """The range of each numeric parameter, derived bounds applied to ``values``
        (defaults where missing)."""
        v = self.defaults() | dict(values or {})
        out = {}
        for p in self.params:
            if p.low is not None:
                out[p.name] = self._range(p, v)[:2]
        return out

    def _range(self, p: Param, values: Mapping[str, Any]) -> tuple[float, float, str]:
        lo, hi, why = p.low, p.high, []
        for b in self.bounds:
            if b.param != p.name:
                continue
            if b.low is not None:
                lo = max(lo, b.low(values))
            if b.high is not None:
                hi = min(hi, b.high(values))
            why.append(b.why)
        return lo, hi, "; ".join(why)

    def resolve(
        self, values: Mapping[str, Any], *, owner: str = "", derived: bool = True
    ) -> dict[str, Any]:
        """Every parameter's value: ``values`` over the defaults, each checked against its
        range (and, with ``derived``, the bounds that depend on other values). An unknown
        name is an error that lists the known ones."""
        unknown = sorted(set(values) - set(self.names))
        if unknown:
            where = f"{owner} has" if owner else "there are"
            raise ValueError(f"{where} no parameter(s) {unknown}; its parameters are {self.names}.")
        merged = self.defaults() | dict(values)
        out = {p.name: p.check(merged[p.name]) for p in self.params}
        if derived:
            for p in self.params:
                if p.low is not None:
                    lo, hi, why = self._range(p, out)
                    if why and p.name not in values and lo <= hi:
                        # A default outside a range set by other values follows them.
                        out[p.name] = p.type(min(max(out[p.name], lo), hi))
                    if why:
                        p.check(out[p.name], low=lo, high=hi, why=why)
        return out

    def check(self, values: Mapping[str, Any], *, owner: str = "") -> dict[str, Any]:
        """``values`` (all parameters, as a lab function receives them) checked; ``seed``
        and other names outside the set are ignored."""
        return self.resolve({k: v for k, v in values.items() if k in self}, owner=owner)

    def narrow(self, *, bounds: Sequence[Bound] | None = None, **changes: Mapping) -> Params:
        """A copy with some parameters narrowed (``name={"low": .., "high": ..}``) and,
        if given, other derived bounds."""
        params = tuple(p.narrow(**changes[p.name]) if p.name in changes else p for p in self)
        missing = sorted(set(changes) - set(self.names))
        if missing:
            raise ValueError(f"no parameter(s) {missing} to narrow; have {self.names}.")
        return Params(params, tuple(self.bounds if bounds is None else bounds))

    def select(self, *names: str) -> Params:
        """Only the parameters ``names`` (in this order) and the bounds on them."""
        return Params(
            tuple(self[n] for n in names), tuple(b for b in self.bounds if b.param in names)
        )

    def widgets(self, *names: str, **narrow: Mapping) -> dict[str, Any]:
        """Controls for ``names`` (all parameters when none are given), keyed by name --
        ready for ``sim.course.widgets.explore(draw, **controls)``; ``narrow`` restricts some."""
        return {n: self[n].widget(**narrow.get(n, {})) for n in (names or self.names)}


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_param(parser: argparse.ArgumentParser, param: Param) -> None:
    """``--name`` (and ``--name-with-dashes``) for ``param`` on a command line; absent
    unless given, so the declaration supplies the default. Ranges are checked by the
    declaration, not by argparse, so the error names the parameter and its range."""
    flags = [f"--{param.name}"]
    if "_" in param.name:
        flags.append(f"--{param.name.replace('_', '-')}")
    parser.add_argument(
        *flags,
        dest=param.name,
        default=argparse.SUPPRESS,
        type=_bool if param.type is bool else param.type,
        metavar="VALUE",
        help=f"{param.describe()} (default {param.default})",
    )


def add_params(parser: argparse.ArgumentParser, params: Params) -> None:
    for param in params:
        add_param(parser, param)


def given(args: argparse.Namespace, params: Params) -> dict[str, Any]:
    """The parameters given on the command line (the rest take their defaults)."""
    return {p.name: getattr(args, p.name) for p in params if hasattr(args, p.name)}


def list_params(params: Params) -> list[str]:
    """One line per parameter: flag with default, allowed values, meaning (and the limits
    other parameters set)."""
    lines = []
    for p in params:
        why = "; ".join(b.why for b in params.bounds if b.param == p.name)
        lines.append(f"    {f'--{p.name} {p.default!r}':<34} {p.describe()}")
        if why:
            lines.append(f"    {'':<34}   and {why}")
    return lines


#: The seed every experiment takes.
SEED = Param("seed", 0, "seed for every random choice", 0, 2**32 - 1)

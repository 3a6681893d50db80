"""Checking the fields of frozen dataclasses, once, at construction.

Every settings dataclass of the simulator (scenarios, broker settings, faults, service
times) validates its fields in ``__post_init__`` with these helpers: a wrong value raises
``ValueError`` (a wrong type ``TypeError``) naming the class, the field and the allowed
range. :func:`build` turns plain data (a mapping, as loaded from YAML) into a dataclass and
rejects unknown fields by name; :func:`nested` does it for a dataclass's nested fields.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

import numpy as np


def _label(obj: Any, name: str) -> str:
    return f'{type(obj).__name__} "{name}"'


def check_number(
    obj: Any,
    name: str,
    lo: float,
    hi: float,
    *,
    integer: bool = False,
    optional: bool = False,
    lo_open: bool = False,
) -> None:
    """Check (and normalise) the numeric field ``name`` of a frozen dataclass ``obj``."""
    v = getattr(obj, name)
    if v is None and optional:
        return
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        extra = " or null" if optional else ""
        raise TypeError(f"{_label(obj, name)} must be a number{extra}, got {type(v).__name__}.")
    v = float(v)
    if math.isnan(v) or v < lo or v > hi or (lo_open and v == lo):
        left = "(" if lo_open else "["
        raise ValueError(f"{_label(obj, name)} must be in {left}{lo:g}, {hi:g}], got {v!r}.")
    if integer:
        if not v.is_integer():
            raise ValueError(f"{_label(obj, name)} must be an integer, got {v!r}.")
        object.__setattr__(obj, name, int(v))
    else:
        object.__setattr__(obj, name, v)


def check_choice(obj: Any, name: str, choices: Sequence[str]) -> None:
    """Check that the field ``name`` is one of ``choices``."""
    v = getattr(obj, name)
    if not isinstance(v, str):
        raise TypeError(f"{_label(obj, name)} must be one of {list(choices)}, got {v!r}.")
    if v not in choices:
        raise ValueError(f"{_label(obj, name)} must be one of {list(choices)}, got {v!r}.")


def check_bool(obj: Any, name: str) -> None:
    v = getattr(obj, name)
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{_label(obj, name)} must be true or false, got {v!r}.")
    object.__setattr__(obj, name, bool(v))


def check_str(obj: Any, name: str) -> None:
    v = getattr(obj, name)
    if not isinstance(v, str):
        raise TypeError(f"{_label(obj, name)} must be a string, got {type(v).__name__}.")


def build(cls: type, data: Any, where: str) -> Any:
    """``cls`` from ``data`` (an instance, a mapping, or ``None`` for the defaults)."""
    if isinstance(data, cls):
        return data
    if data is None:
        return cls()
    if not isinstance(data, Mapping):
        raise TypeError(f'"{where}" must be a mapping of {cls.__name__} fields, got {data!r}.')
    names = [f.name for f in fields(cls)]
    unknown = sorted(str(k) for k in data if k not in names)
    if unknown:
        raise ValueError(
            f'"{where}" ({cls.__name__}): unknown field(s) {unknown}; allowed: {names}.'
        )
    return cls(**{str(k): v for k, v in data.items()})


def build_tuple(cls: type, data: Any, where: str, count_ok: bool = False) -> tuple:
    if data is None:
        return ()
    if count_ok and isinstance(data, (int, np.integer)) and not isinstance(data, bool):
        if not 0 <= data <= 1000:
            raise ValueError(f'"{where}" must be a count in [0, 1000] or a list, got {data}.')
        return tuple(cls() for _ in range(int(data)))
    if isinstance(data, (str, bytes, Mapping)) or not isinstance(data, Sequence):
        raise TypeError(f'"{where}" must be a list of {cls.__name__} entries, got {data!r}.')
    if len(data) > 1000:
        raise ValueError(f'"{where}" must have at most 1000 entries, got {len(data)}.')
    return tuple(entry(cls, d, where) for d in data)


def entry(cls: type, d: Any, where: str) -> Any:
    """One list entry: a mapping of fields, or a list of field values in order."""
    if not isinstance(d, (list, tuple)):
        return build(cls, d, where)
    names = [f.name for f in fields(cls)]
    required = [
        f.name
        for f in fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if not len(required) <= len(d) <= len(names):
        raise TypeError(
            f'"{where}" entries given as lists must be [{", ".join(names)}] (at least '
            f"{len(required)} items), got {list(d)!r}."
        )
    return cls(*d)


def nested(obj: Any) -> None:
    """Turn mappings in nested fields into dataclasses (so ``Group(service={...})`` works)."""
    for name, cls in getattr(obj, "_NESTED", {}).items():
        v = getattr(obj, name)
        if v is not None or name not in getattr(obj, "_OPTIONAL", ()):
            object.__setattr__(obj, name, build(cls, v, name))
    for name, (cls, count_ok) in getattr(obj, "_TUPLES", {}).items():
        object.__setattr__(obj, name, build_tuple(cls, getattr(obj, name), name, count_ok))

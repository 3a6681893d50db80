"""Checking lab parameters: bad input fails at once, naming the parameter and its range."""

from __future__ import annotations

from collections.abc import Sequence


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

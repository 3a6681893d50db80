"""Schema compatibility: the check a CI job runs on every change of an event schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def schema_problems(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Backward-compatibility problems between two versions of an event schema.

    A schema here maps field names to ``{"type": ..., "required": bool}``. A new version
    may add optional fields; it must not remove a field, change a field's type, or add a
    required field (old producers do not send it). A CI job runs this on every change.
    """
    problems = []
    for name, spec in old.items():
        if name not in new:
            problems.append(f"field {name!r} removed")
        elif new[name].get("type") != spec.get("type"):
            problems.append(
                f"field {name!r} changed type {spec.get('type')!r} -> {new[name].get('type')!r}"
            )
    for name, spec in new.items():
        if name not in old and spec.get("required", False):
            problems.append(f"field {name!r} added as required")
    return problems

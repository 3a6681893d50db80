"""Schema compatibility: the check a CI job runs on every change of an event schema.

A schema here maps field names to ``{"type": ..., "required": bool}``; ``required`` means
the field has no default (a field without it, or ``False``, has one). The rules are Avro's
schema resolution (reader and writer schema; Avro 1.11 specification, "Schema
Resolution": https://avro.apache.org/docs/1.11.1/specification/#schema-resolution) and the
compatibility types of a schema registry (Confluent Schema Registry, "Compatibility
types": https://docs.confluent.io/platform/current/schema-registry/fundamentals/schema-evolution.html#compatibility-types):

- ``BACKWARD`` (the registry's default) -- consumers on the *new* schema read data written
  with the *old* one. Removing a field is allowed (the reader ignores it); adding one needs
  a default; a type may change only by a promotion (int -> long, float or double; long ->
  float or double; float -> double; string <-> bytes).
- ``FORWARD`` -- consumers still on the *old* schema read data written with the new one.
  Adding a field is allowed; removing one needs a default in the old schema; a type may
  change only so that the new type promotes to the old one.
- ``FULL`` -- both. ``NONE`` -- no check.

The registry's ``*_TRANSITIVE`` variants check against every earlier version, not only the
last: call this once per earlier version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Compatibility types, as a schema registry names them.
MODES = ("BACKWARD", "FORWARD", "FULL", "NONE")
#: Avro's type promotions: a value written as the key can be read as any of the values.
PROMOTIONS: Mapping[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}


def readable(writer_type: Any, reader_type: Any) -> bool:
    """True when a value written as ``writer_type`` can be read as ``reader_type`` (Avro)."""
    return writer_type == reader_type or reader_type in PROMOTIONS.get(writer_type, ())


def _read_problems(writer: Mapping[str, Any], reader: Mapping[str, Any], who: str) -> list[str]:
    """What goes wrong when a consumer on ``reader`` reads data written with ``writer``."""
    problems = []
    for name, spec in reader.items():
        if name not in writer:
            if spec.get("required", False):
                problems.append(
                    f"{who}: field {name!r} is missing from the data and has no default"
                )
        elif not readable(writer[name].get("type"), spec.get("type")):
            problems.append(
                f"{who}: field {name!r} written as {writer[name].get('type')!r} cannot be read "
                f"as {spec.get('type')!r}"
            )
    return problems


def schema_problems(
    old: Mapping[str, Any], new: Mapping[str, Any], mode: str = "BACKWARD"
) -> list[str]:
    """The problems that make ``new`` incompatible with ``old`` under ``mode`` (empty:
    compatible). See the module docstring for the rules."""
    if mode not in MODES:
        raise ValueError(f'"mode" must be one of {list(MODES)}, got {mode!r}.')
    problems = []
    if mode in ("BACKWARD", "FULL"):
        problems += _read_problems(old, new, "BACKWARD (new reads old)")
    if mode in ("FORWARD", "FULL"):
        problems += _read_problems(new, old, "FORWARD (old reads new)")
    return problems

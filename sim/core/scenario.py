"""Scenarios as data: what to simulate, validated once, before anything runs.

A :class:`Scenario` is a tree of frozen dataclasses -- the **workload** (arrivals, keys,
sizes, poison messages: :class:`~sim.core.workload.Workload`), the **topology** (which
channels exist: a Redis Pub/Sub channel, a Kafka topic, a Redis stream, with their broker
settings), the **consumers** (Pub/Sub subscribers, Kafka consumer groups, Redis Streams
consumer groups) and the **faults** (a schedule of :class:`~sim.core.faults.Fault`
entries). :class:`Topology` and :class:`Consumers` have one field per broker model of
:data:`sim.models.registry.MODELS`, each declared by its model. Every field has a default
and is checked at construction: a wrong value raises ``ValueError`` (or ``TypeError`` for
a wrong type) naming the field and the allowed range, and an unknown field is an error,
so a typo fails loudly.

Scenarios load from plain dicts or YAML files (:meth:`Scenario.from_dict`,
:meth:`Scenario.from_yaml`), turn back into dicts (:meth:`Scenario.to_dict`) and can be
varied one dotted field at a time (:meth:`Scenario.with_changes`), which is what sweeps do.

>>> s = Scenario.from_dict({"workload": {"rate_per_s": 100, "duration_s": 10},
...                         "consumers": {"subscribers": 2}})
>>> s.topology.pubsub is not None, len(s.consumers.subscribers)
(True, 2)
>>> Scenario.from_dict({"workload": {"rate": 1}})
Traceback (most recent call last):
...
ValueError: "workload" (Workload): unknown field(s) ['rate']; allowed: ...
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from sim.core.faults import CLUSTER_FAULTS, SCENARIO_FAULTS, Fault
from sim.core.validation import build, check_number, check_str, nested
from sim.core.workload import Workload
from sim.models.registry import MODELS

# --------------------------------------------------------------------------- topology, consumers


def _sections(name: str, doc: str, fields_of: list[tuple[str, type, Any]], **ns: Any) -> type:
    """A frozen dataclass with one optional field per model, built from the registry."""

    def post_init(self) -> None:
        nested(self)

    cls = dataclasses.make_dataclass(
        name,
        fields_of,
        namespace={"__doc__": doc, "__post_init__": post_init, "__module__": __name__, **ns},
        frozen=True,
    )
    return cls


Topology = _sections(
    "Topology",
    "Which channels carry the workload; every message is published to each channel present: "
    + "; ".join(f"``{m.section}``: {m.doc}" for m in MODELS)
    + ".",
    [(m.section, m.settings | None, None) for m in MODELS],
    _NESTED={m.section: m.settings for m in MODELS},
    _OPTIONAL=tuple(m.section for m in MODELS),
)
Consumers = _sections(
    "Consumers",
    "Who reads: " + ", ".join(f"``{m.readers_field}``" for m in MODELS) + ".",
    [
        (m.readers_field, tuple[m.reader, ...], field(default=()))  # type: ignore[name-defined]
        for m in MODELS
    ],
    _TUPLES={m.readers_field: (m.reader, m.readers_as_count) for m in MODELS},
)


# --------------------------------------------------------------------------- scenario


@dataclass(frozen=True)
class Scenario:
    """A whole experiment: workload, topology, consumers and faults.

    The run publishes for the workload's window and goes on for ``drain_s`` more seconds
    so consumers can catch up. ``lag_points`` is the resolution of the lag time series.
    Channels with consumers but no settings get the defaults (subscribers imply a Pub/Sub
    channel, groups a Kafka topic, stream groups a Redis stream).
    """

    name: str = "scenario"
    description: str = ""
    workload: Workload = field(default_factory=Workload)
    topology: Topology = field(default_factory=Topology)
    consumers: Consumers = field(default_factory=Consumers)
    faults: tuple[Fault, ...] = ()
    drain_s: float = 60.0
    lag_points: int = 500

    _NESTED: ClassVar = {"workload": Workload, "topology": Topology, "consumers": Consumers}
    _TUPLES: ClassVar = {"faults": (Fault, False)}

    def __post_init__(self) -> None:
        check_str(self, "name")
        check_str(self, "description")
        nested(self)
        check_number(self, "drain_s", 0.0, 1e8)
        check_number(self, "lag_points", 2, 100_000, integer=True)
        topo, cons = self.topology, self.consumers
        implied = {
            m.section: m.settings()
            for m in MODELS
            if getattr(topo, m.section) is None and getattr(cons, m.readers_field)
        }
        object.__setattr__(self, "topology", dataclasses.replace(topo, **implied))
        for f in self.faults:
            self._check_target(f)

    def _check_target(self, f: Fault) -> None:
        if f.kind in CLUSTER_FAULTS:
            raise ValueError(
                f'Fault "kind" {f.kind!r} is a cluster fault (sim.course.durability); a '
                f"scenario takes {list(SCENARIO_FAULTS)}."
            )
        for m in MODELS:
            if f.target_kind in m.targets:
                why = m.check_target(f, self.topology, self.consumers)
                if why:
                    raise ValueError(f'Fault "target" {f.target!r}: {why}.')

    # ----------------------------------------------------------------------- loading

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """A scenario from a plain mapping (as loaded from YAML or JSON)."""
        return build(cls, data, "scenario")

    @classmethod
    def from_yaml(cls, path: str | Path) -> Scenario:
        """A scenario from a YAML file."""
        import yaml

        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """The scenario as plain data (``Scenario.from_dict(s.to_dict()) == s``)."""
        return _plain(self)

    def with_changes(self, **changes: Any) -> Scenario:
        """A copy with dotted fields changed, e.g. ``{"workload.rate_per_s": 500}`` or
        ``{"consumers.groups.0.consumers": 4}``; pass them as ``**{...}``."""
        data = self.to_dict()
        for path, value in changes.items():
            _set_path(data, path, value)
        return Scenario.from_dict(data)


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, tuple):
        return [_plain(x) for x in obj]
    return obj


def _set_path(data: Any, path: str, value: Any) -> None:
    parts = path.split(".")
    node = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ValueError(f'"{path}": no list entry {part!r} (have {len(node)}).')
            key: Any = int(part)
        elif isinstance(node, dict):
            if part not in node:
                raise ValueError(f'"{path}": unknown field {part!r}; allowed: {list(node)}.')
            key = part
        else:
            raise ValueError(f'"{path}": {".".join(parts[:i])} is not a mapping or a list.')
        if last:
            node[key] = value
        else:
            if node[key] is None:
                node[key] = {}
            node = node[key]

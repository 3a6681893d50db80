"""An architect's event classes, read from a YAML file: the input of the decision record.

The file holds a list ``events:``; each entry has the fields of
:class:`~sim.course.decision.recommend.EventClass` (``name``, ``rate_per_s``, ``critical``,
``needs_replay``, ``ordering``, ``fan_out``, ``latency_p95_ms``, ``downtime_s``,
``max_loss_fraction``, ``outages_per_day``, ``service_rate_per_s``) and, optionally, what the
configuration is sized from: ``keys`` (distinct keys), ``key_skew`` (the Zipf exponent of the
key popularity, 0: every key equally busy) and ``message_bytes``. Two optional top-level
fields: ``title`` and ``redis_persistence`` (how the Redis that would hold a stream persists
it: ``none``, ``rdb``, ``aof_everysec``, ``aof_always``). A mistake is a ``ValueError`` naming
the event and the field.

>>> spec = parse({"events": [{"name": "OrderPlaced", "rate_per_s": 50, "critical": True}]})
>>> spec.events[0].event.name, spec.events[0].keys, spec.redis_persistence
('OrderPlaced', 1000, 'none')
>>> parse({"events": [{"name": "OrderPlaced", "rate": 50}]})
Traceback (most recent call last):
...
ValueError: events[0] (OrderPlaced): unknown field "rate"; allowed: critical, downtime_s, ...
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.core.validation import check_number
from sim.course.decision.recommend import REDIS_PERSISTENCE, EventClass

#: The bundled example (``python -m sim decide`` without a file uses it).
EXAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "events" / "example_events.yaml"
EVENT_FIELDS = tuple(f.name for f in dataclasses.fields(EventClass))
SIZING_FIELDS = ("keys", "key_skew", "message_bytes")
TOP_FIELDS = ("events", "title", "redis_persistence")


@dataclass(frozen=True)
class EventSpec:
    """One event class and what its configuration is sized from."""

    event: EventClass
    keys: int = 1000
    key_skew: float = 0.0
    message_bytes: int = 1024

    def __post_init__(self) -> None:
        check_number(self, "keys", 1, 10_000_000, integer=True)
        check_number(self, "key_skew", 0.0, 5.0)
        check_number(self, "message_bytes", 1, 10_000_000, integer=True)


@dataclass(frozen=True)
class EventsFile:
    """The parsed file: its event classes, a title and the Redis persistence."""

    events: tuple[EventSpec, ...]
    title: str = "event delivery"
    redis_persistence: str = "none"
    source: str = ""


def load(path: str | Path) -> EventsFile:
    """Read and check an events file (see the module docstring)."""
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read the events file {str(p)!r}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{p}: not valid YAML ({exc})") from None
    return dataclasses.replace(parse(data), source=str(p))


def parse(data: Any) -> EventsFile:
    """Check the mapping an events file holds; errors name the event and the field."""
    if not isinstance(data, Mapping):
        raise ValueError('an events file is a mapping with a list "events:" of event classes')
    unknown = sorted(set(data) - set(TOP_FIELDS))
    if unknown:
        raise ValueError(
            f'unknown top-level field "{unknown[0]}"; allowed: {", ".join(TOP_FIELDS)}'
        )
    events = data.get("events")
    if not isinstance(events, list) or not events:
        raise ValueError('"events" must be a non-empty list of event classes')
    persistence = data.get("redis_persistence", "none")
    if persistence not in REDIS_PERSISTENCE:
        raise ValueError(
            f'"redis_persistence" must be one of {list(REDIS_PERSISTENCE)}, got {persistence!r}'
        )
    title = data.get("title", "event delivery")
    if not isinstance(title, str) or not title.strip():
        raise ValueError('"title" must be a non-empty string')
    specs = tuple(_event(i, e) for i, e in enumerate(events))
    names = [s.event.name for s in specs]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise ValueError(f"event names must be unique: {dup!r} appears twice")
    return EventsFile(specs, title.strip(), persistence)


def _event(i: int, entry: Any) -> EventSpec:
    where = f"events[{i}]"
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: an event class is a mapping of fields, got {entry!r}")
    if isinstance(entry.get("name"), str):
        where += f" ({entry['name']})"
    allowed = sorted((*EVENT_FIELDS, *SIZING_FIELDS))
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise ValueError(f'{where}: unknown field "{unknown[0]}"; allowed: {", ".join(allowed)}.')
    if "name" not in entry:
        raise ValueError(f'{where}: the field "name" is required')
    try:
        event = EventClass(**{k: v for k, v in entry.items() if k in EVENT_FIELDS})
        return EventSpec(event, **{k: v for k, v in entry.items() if k in SIZING_FIELDS})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None

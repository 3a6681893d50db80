"""Scenarios as data: what to simulate, validated once, before anything runs.

A :class:`Scenario` is a tree of frozen dataclasses -- the **workload** (arrivals, keys,
sizes, poison messages), the **topology** (which channels exist: a Redis Pub/Sub channel,
a Kafka topic, a Redis stream, with their broker settings), the **consumers** (Pub/Sub
subscribers, Kafka consumer groups, Redis Streams consumer groups) and the **faults** (a
schedule of ``(kind, target, start_s, duration_s)`` entries). Every field has a default
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
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sim.core.distributions import Service

#: Upper bound on the number of messages one run may generate.
MAX_MESSAGES = 50_000_000

# --------------------------------------------------------------------------- validation


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


def _build(cls: type, data: Any, where: str) -> Any:
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


def _build_tuple(cls: type, data: Any, where: str, count_ok: bool = False) -> tuple:
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
    return tuple(_entry(cls, d, where) for d in data)


def _entry(cls: type, d: Any, where: str) -> Any:
    """One list entry: a mapping of fields, or a list of field values in order."""
    if not isinstance(d, (list, tuple)):
        return _build(cls, d, where)
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


def _nested(obj: Any) -> None:
    """Turn mappings in nested fields into dataclasses (so ``Group(service={...})`` works)."""
    for name, cls in getattr(obj, "_NESTED", {}).items():
        v = getattr(obj, name)
        if v is not None or name not in getattr(obj, "_OPTIONAL", ()):
            object.__setattr__(obj, name, _build(cls, v, name))
    for name, (cls, count_ok) in getattr(obj, "_TUPLES", {}).items():
        object.__setattr__(obj, name, _build_tuple(cls, getattr(obj, name), name, count_ok))


# --------------------------------------------------------------------------- workload

ARRIVALS = ("constant", "poisson", "bursty")
KEY_DISTRIBUTIONS = ("uniform", "zipf", "hot", "none")


@dataclass(frozen=True)
class Workload:
    """What producers send.

    ``arrivals``: ``constant`` (every 1/rate s), ``poisson`` (rate ``rate_per_s``) or
    ``bursty`` (Poisson at ``rate_per_s``, but at ``burst_rate_per_s`` during the first
    ``burst_length_s`` of every ``burst_every_s``). The run publishes for ``duration_s``
    seconds, or exactly ``messages`` messages when that is set. Keys are integers
    ``0..keys-1``: ``uniform``, ``zipf`` (P(rank r) ~ r^-zipf_s, key 0 hottest), ``hot``
    (a share ``hot_key_fraction`` on key 0, the rest uniform) or ``none`` (null keys).
    Sizes have mean ``size_bytes`` (lognormal with ``size_cv`` when > 0). A share
    ``poison_fraction`` of messages is marked poison: processing them always fails.
    """

    rate_per_s: float = 1000.0
    duration_s: float = 60.0
    messages: int | None = None
    arrivals: str = "poisson"
    burst_rate_per_s: float = 10_000.0
    burst_every_s: float = 10.0
    burst_length_s: float = 1.0
    keys: int = 1000
    key_distribution: str = "uniform"
    zipf_s: float = 1.1
    hot_key_fraction: float = 0.9
    size_bytes: int = 1024
    size_cv: float = 0.0
    poison_fraction: float = 0.0

    def __post_init__(self) -> None:
        check_number(self, "rate_per_s", 0.0, 1e8, lo_open=True)
        check_number(self, "duration_s", 0.0, 1e8, lo_open=True)
        check_number(self, "messages", 1, MAX_MESSAGES, integer=True, optional=True)
        check_choice(self, "arrivals", ARRIVALS)
        check_number(self, "burst_rate_per_s", 0.0, 1e8, lo_open=True)
        check_number(self, "burst_every_s", 0.0, 1e8, lo_open=True)
        check_number(self, "burst_length_s", 0.0, self.burst_every_s)
        check_number(self, "keys", 1, 100_000_000, integer=True)
        check_choice(self, "key_distribution", KEY_DISTRIBUTIONS)
        check_number(self, "zipf_s", 0.0, 20.0)
        check_number(self, "hot_key_fraction", 0.0, 1.0)
        check_number(self, "size_bytes", 1, 100_000_000, integer=True)
        check_number(self, "size_cv", 0.0, 10.0)
        check_number(self, "poison_fraction", 0.0, 1.0)
        if self.messages is None and self.expected_messages > MAX_MESSAGES:
            raise ValueError(
                f'Workload "rate_per_s" x "duration_s" must give at most {MAX_MESSAGES} '
                f"messages, got about {self.expected_messages:.3g}."
            )

    @property
    def mean_rate_per_s(self) -> float:
        """Long-run mean arrival rate (lambda), bursts included."""
        if self.arrivals != "bursty":
            return self.rate_per_s
        on = self.burst_length_s / self.burst_every_s
        return on * self.burst_rate_per_s + (1 - on) * self.rate_per_s

    @property
    def expected_messages(self) -> float:
        if self.messages is not None:
            return float(self.messages)
        return self.mean_rate_per_s * self.duration_s


# --------------------------------------------------------------------------- topology

ACKS = ("0", "1", "all")


@dataclass(frozen=True)
class PubSub:
    """A Redis Pub/Sub channel: per-subscriber output buffer limits (bytes; 0 disables a
    limit) as in ``client-output-buffer-limit pubsub 32mb 8mb 60``, and the network delay
    from server to subscriber."""

    buffer_hard_bytes: int = 32 * 1024 * 1024
    buffer_soft_bytes: int = 8 * 1024 * 1024
    buffer_soft_s: float = 60.0
    network_delay_ms: float = 0.5

    def __post_init__(self) -> None:
        check_number(self, "buffer_hard_bytes", 0, 2**40, integer=True)
        check_number(self, "buffer_soft_bytes", 0, 2**40, integer=True)
        check_number(self, "buffer_soft_s", 0.0, 1e6)
        check_number(self, "network_delay_ms", 0.0, 1e6)


@dataclass(frozen=True)
class Log:
    """A Kafka topic and its producer.

    ``partitions`` partitions; retention by time (``retention_ms``) and per-partition size
    (``retention_bytes``; null = unlimited). Producer: ``linger_ms`` batching, ``acks``
    ("0", "1", "all"), ``retries`` with ``retry_backoff_ms``, ``enable_idempotence``; a
    share ``request_error_rate`` of produce requests lose their response after the write
    (the classic cause of duplicates without idempotence); sends expire after
    ``delivery_timeout_ms`` while a leader is unavailable; with ``acks`` other than "all" a
    leader failure loses the writes of its last ``replication_lag_ms``.
    ``partition_rate_per_s`` caps each partition's append throughput (null = no cap).
    """

    partitions: int = 12
    retention_ms: float | None = 604_800_000.0
    retention_bytes: int | None = None
    linger_ms: float = 0.0
    acks: str = "all"
    retries: int = 5
    retry_backoff_ms: float = 100.0
    enable_idempotence: bool = True
    request_error_rate: float = 0.0
    delivery_timeout_ms: float = 120_000.0
    replication_lag_ms: float = 50.0
    partition_rate_per_s: float | None = None
    network_delay_ms: float = 0.5

    def __post_init__(self) -> None:
        if isinstance(self.acks, (int, np.integer)) and not isinstance(self.acks, bool):
            object.__setattr__(self, "acks", str(self.acks))
        check_number(self, "partitions", 1, 10_000, integer=True)
        check_number(self, "retention_ms", 0.0, 1e15, optional=True, lo_open=True)
        check_number(self, "retention_bytes", 1, 2**50, integer=True, optional=True)
        check_number(self, "linger_ms", 0.0, 1e6)
        check_choice(self, "acks", ACKS)
        check_number(self, "retries", 0, 1_000_000, integer=True)
        check_number(self, "retry_backoff_ms", 0.0, 1e7)
        check_bool(self, "enable_idempotence")
        check_number(self, "request_error_rate", 0.0, 1.0)
        check_number(self, "delivery_timeout_ms", 0.0, 1e12)
        check_number(self, "replication_lag_ms", 0.0, 1e7)
        check_number(self, "partition_rate_per_s", 0.0, 1e9, optional=True, lo_open=True)
        check_number(self, "network_delay_ms", 0.0, 1e6)
        if self.enable_idempotence and self.acks != "all":
            raise ValueError('Log "enable_idempotence" requires "acks" = "all" (as in Kafka).')


@dataclass(frozen=True)
class Stream:
    """A Redis stream: XADD with optional ``MAXLEN`` trimming (null = no trimming)."""

    maxlen: int | None = None
    network_delay_ms: float = 0.5

    def __post_init__(self) -> None:
        check_number(self, "maxlen", 1, 2**40, integer=True, optional=True)
        check_number(self, "network_delay_ms", 0.0, 1e6)


@dataclass(frozen=True)
class Topology:
    """Which channels carry the workload: any of a Pub/Sub channel, a Kafka topic (``log``)
    and a Redis stream. Every message is published to each channel present."""

    pubsub: PubSub | None = None
    log: Log | None = None
    stream: Stream | None = None

    _NESTED: ClassVar = {"pubsub": PubSub, "log": Log, "stream": Stream}
    _OPTIONAL: ClassVar = ("pubsub", "log", "stream")

    def __post_init__(self) -> None:
        _nested(self)


# --------------------------------------------------------------------------- consumers

ASSIGNMENTS = ("range", "roundrobin")
COMMITS = ("auto", "before", "after", "idempotent")
OFFSET_RESETS = ("earliest", "latest")


@dataclass(frozen=True)
class Subscriber:
    """A Pub/Sub subscriber: its processing time and how long it takes to reconnect."""

    service: Service = field(default_factory=lambda: Service("constant", 0.05))
    reconnect_delay_ms: float = 1000.0

    _NESTED: ClassVar = {"service": Service}

    def __post_init__(self) -> None:
        _nested(self)
        check_number(self, "reconnect_delay_ms", 0.0, 1e9)


@dataclass(frozen=True)
class Group:
    """A Kafka consumer group.

    ``consumers`` members; partition ``assignment`` ``range`` or ``roundrobin``; ``commit``
    policy: ``auto`` (every ``auto_commit_interval_ms``), ``before`` processing
    (at-most-once), ``after`` processing (at-least-once) or ``idempotent`` (after, with a
    dedupe store: a redelivered message is recognised and skipped). ``max_poll_records``
    records per poll; a crashed member is detected after ``session_timeout_ms``; every
    rebalance pauses the group for ``rebalance_ms``. The group joins at ``join_at_s`` and
    starts per ``auto_offset_reset``, or at ``seek_offset`` / ``seek_timestamp_s``. A poison
    message is retried ``max_retries`` times with exponential backoff from
    ``retry_backoff_ms``, then sent to the dead-letter topic (``dlq``) or dropped.
    """

    consumers: int = 1
    assignment: str = "range"
    commit: str = "after"
    auto_commit_interval_ms: float = 5000.0
    max_poll_records: int = 500
    service: Service = field(default_factory=lambda: Service("constant", 1.0))
    session_timeout_ms: float = 45_000.0
    rebalance_ms: float = 1000.0
    join_at_s: float = 0.0
    auto_offset_reset: str = "latest"
    seek_offset: int | None = None
    seek_timestamp_s: float | None = None
    max_retries: int = 3
    retry_backoff_ms: float = 100.0
    dlq: bool = True

    _NESTED: ClassVar = {"service": Service}

    def __post_init__(self) -> None:
        _nested(self)
        check_number(self, "consumers", 1, 1000, integer=True)
        check_choice(self, "assignment", ASSIGNMENTS)
        check_choice(self, "commit", COMMITS)
        check_number(self, "auto_commit_interval_ms", 0.0, 1e9, lo_open=True)
        check_number(self, "max_poll_records", 1, 1_000_000, integer=True)
        check_number(self, "session_timeout_ms", 0.0, 1e9)
        check_number(self, "rebalance_ms", 0.0, 1e9)
        check_number(self, "join_at_s", 0.0, 1e8)
        check_choice(self, "auto_offset_reset", OFFSET_RESETS)
        check_number(self, "seek_offset", 0, 2**62, integer=True, optional=True)
        check_number(self, "seek_timestamp_s", 0.0, 1e12, optional=True)
        check_number(self, "max_retries", 0, 1000, integer=True)
        check_number(self, "retry_backoff_ms", 0.0, 1e7)
        check_bool(self, "dlq")
        if self.seek_offset is not None and self.seek_timestamp_s is not None:
            raise ValueError('Group "seek_offset" and "seek_timestamp_s" are exclusive.')


@dataclass(frozen=True)
class StreamGroup:
    """A Redis Streams consumer group.

    ``consumers`` members read ``count`` entries per XREADGROUP and XACK a batch after
    processing it. A crashed member's entries stay pending; every member runs XAUTOCLAIM
    every ``autoclaim_interval_ms`` for entries idle at least ``min_idle_ms``. An entry
    delivered ``max_deliveries`` times without success goes to the dead-letter stream.
    The group is created at ``join_at_s`` reading from the beginning (``start`` =
    ``earliest``, id 0) or only new entries (``latest``, id $).
    """

    consumers: int = 1
    count: int = 10
    service: Service = field(default_factory=lambda: Service("constant", 1.0))
    min_idle_ms: float = 5000.0
    autoclaim_interval_ms: float = 1000.0
    max_deliveries: int = 3
    join_at_s: float = 0.0
    start: str = "earliest"

    _NESTED: ClassVar = {"service": Service}

    def __post_init__(self) -> None:
        _nested(self)
        check_number(self, "consumers", 1, 1000, integer=True)
        check_number(self, "count", 1, 1_000_000, integer=True)
        check_number(self, "min_idle_ms", 0.0, 1e9)
        check_number(self, "autoclaim_interval_ms", 1.0, 1e9)
        check_number(self, "max_deliveries", 1, 1000, integer=True)
        check_number(self, "join_at_s", 0.0, 1e8)
        check_choice(self, "start", OFFSET_RESETS)


@dataclass(frozen=True)
class Consumers:
    """Who reads: Pub/Sub ``subscribers`` (a count or a list), Kafka consumer ``groups``
    and Redis Streams ``stream_groups``."""

    subscribers: tuple[Subscriber, ...] = ()
    groups: tuple[Group, ...] = ()
    stream_groups: tuple[StreamGroup, ...] = ()

    _TUPLES: ClassVar = {
        "subscribers": (Subscriber, True),
        "groups": (Group, False),
        "stream_groups": (StreamGroup, False),
    }

    def __post_init__(self) -> None:
        _nested(self)


# --------------------------------------------------------------------------- faults

FAULT_KINDS = (
    "subscriber_down",
    "consumer_crash",
    "consumer_leave",
    "network_flap",
    "slow_consumer",
    "leader_unavailable",
    "broker_down",
)
_TARGET = re.compile(
    r"^(?:(subscriber):(\d+)|(group):(\d+):(\d+)|(stream-group):(\d+):(\d+)|(partition):(\d+)"
    r"|(pubsub|log|stream))$"
)


@dataclass(frozen=True)
class Fault:
    """One fault: ``kind`` hits ``target`` from ``start_s`` for ``duration_s`` seconds.

    Kinds and targets: ``subscriber_down`` (``subscriber:i``), ``consumer_crash`` and
    ``consumer_leave`` (``group:g:c`` or ``stream-group:g:c``; the consumer restarts at
    the end), ``network_flap`` (a subscriber or a consumer loses the network),
    ``slow_consumer`` (service times multiplied by ``factor``), ``leader_unavailable``
    (``partition:p`` or ``log``) and ``broker_down`` (``pubsub``, ``log`` or ``stream``).
    """

    kind: str
    target: str
    start_s: float
    duration_s: float
    factor: float = 1.0

    def __post_init__(self) -> None:
        check_choice(self, "kind", FAULT_KINDS)
        check_str(self, "target")
        check_number(self, "start_s", 0.0, 1e8)
        check_number(self, "duration_s", 0.0, 1e8)
        check_number(self, "factor", 0.0, 1e6, lo_open=True)
        m = _TARGET.match(self.target)
        if not m:
            raise ValueError(
                f'Fault "target" must look like subscriber:0, group:0:1, stream-group:0:0, '
                f"partition:3, pubsub, log or stream; got {self.target!r}."
            )
        allowed = {
            "subscriber_down": ("subscriber",),
            "consumer_crash": ("group", "stream-group"),
            "consumer_leave": ("group",),
            "network_flap": ("subscriber", "group", "stream-group"),
            "slow_consumer": ("subscriber", "group", "stream-group"),
            "leader_unavailable": ("partition", "log"),
            "broker_down": ("pubsub", "log", "stream"),
        }[self.kind]
        if self.target_kind not in allowed:
            raise ValueError(
                f'Fault "target" of a {self.kind} must be a {" or ".join(allowed)}, '
                f"got {self.target!r}."
            )

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    @property
    def target_kind(self) -> str:
        return self.target.split(":")[0]

    @property
    def target_index(self) -> tuple[int, ...]:
        return tuple(int(x) for x in self.target.split(":")[1:])


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
        _nested(self)
        check_number(self, "drain_s", 0.0, 1e8)
        check_number(self, "lag_points", 2, 100_000, integer=True)
        topo, cons = self.topology, self.consumers
        topo = dataclasses.replace(
            topo,
            pubsub=topo.pubsub or (PubSub() if cons.subscribers else None),
            log=topo.log or (Log() if cons.groups else None),
            stream=topo.stream or (Stream() if cons.stream_groups else None),
        )
        object.__setattr__(self, "topology", topo)
        for f in self.faults:
            self._check_target(f)

    def _check_target(self, f: Fault) -> None:
        kind, idx = f.target_kind, f.target_index
        cons, topo = self.consumers, self.topology

        def bad(msg: str) -> ValueError:
            return ValueError(f'Fault "target" {f.target!r}: {msg}.')

        if kind == "subscriber" and idx[0] >= len(cons.subscribers):
            raise bad(f"there are {len(cons.subscribers)} subscribers")
        if kind in ("group", "stream-group"):
            groups = cons.groups if kind == "group" else cons.stream_groups
            if idx[0] >= len(groups):
                raise bad(f"there are {len(groups)} {kind}s")
            if idx[1] >= groups[idx[0]].consumers:
                raise bad(f"{kind} {idx[0]} has {groups[idx[0]].consumers} consumers")
        if kind == "partition" and (topo.log is None or idx[0] >= topo.log.partitions):
            n = 0 if topo.log is None else topo.log.partitions
            raise bad(f"the log has {n} partitions")
        if kind in ("pubsub", "log", "stream") and getattr(topo, kind) is None:
            raise bad(f"the scenario has no {kind}")

    # ----------------------------------------------------------------------- loading

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scenario:
        """A scenario from a plain mapping (as loaded from YAML or JSON)."""
        return _build(cls, data, "scenario")

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

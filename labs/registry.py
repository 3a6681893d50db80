"""The labs by name, with their parameters, defaults and allowed ranges.

The command line (``python -m labs``), the notebooks and a later simulator twin find labs
here. Each :class:`Param` documents one keyword parameter of the lab function: its type,
the range or choices the lab accepts (the lab itself checks them and raises ``ValueError``
naming the parameter) and what it means. Defaults come from the function's signature, so
they cannot drift from the code.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labs.backpressure import run_backpressure
from labs.hot_partitions import run_hot_partitions
from labs.hybrid import run_hybrid
from labs.idempotency import PRODUCERS, run_idempotency
from labs.loss import run_loss
from labs.ordering import run_ordering
from labs.poison import run_poison
from labs.replay import run_replay
from labs.streams import run_streams
from labs.workload import ARRIVALS, KEY_DISTRIBUTIONS
from sim.analysis.result import Result


@dataclass(frozen=True)
class Param:
    """One lab parameter: type, allowed values, meaning."""

    type: type
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.choices:
            allowed = "|".join(self.choices)
        elif self.type is bool:
            allowed = "true|false"
        elif self.type is int:
            allowed = f"{int(self.low)}..{int(self.high)}"
        else:
            allowed = f"{self.low:g}..{self.high:g}"
        return f"{allowed}: {self.help}"


@dataclass(frozen=True)
class Lab:
    """A lab: its function, a one-line summary and its parameters."""

    name: str
    run: Callable[..., Result]
    summary: str
    params: dict[str, Param] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        sig = inspect.signature(self.run)
        return {name: p.default for name, p in sig.parameters.items() if name != "seed"}


SEED = Param(int, "seed for every random choice", 0, 2**32 - 1)
_RATE = Param(float, "messages published per second", 1, 5000)
_WINDOW = Param(float, "seconds of publishing", 0.2, 10)
_PARTS = Param(int, "partitions of the topic", 1, 32)
_KEYS = Param(int, "number of distinct keys", 1, 100000)
_SERVICE = Param(float, "messages a consumer processes per second", 10, 20000)

LABS: dict[str, Lab] = {
    lab.name: lab
    for lab in (
        Lab(
            "loss",
            run_loss,
            "Pub/Sub loses what a disconnected subscriber missed; Kafka keeps it as lag",
            {
                "rate_per_s": _RATE,
                "window_s": _WINDOW,
                "down_from_s": Param(float, "when the consumers go down (s)", 0, 10),
                "down_for_s": Param(float, "how long they stay down (s)", 0.05, 10),
                "service_rate_per_s": _SERVICE,
                "partitions": _PARTS,
                "num_keys": _KEYS,
                "arrivals": Param(str, "arrival process", choices=ARRIVALS),
            },
        ),
        Lab(
            "replay",
            run_replay,
            "groups, late groups, seek to offset/timestamp, and loss past retention",
            {
                "messages": Param(int, "messages in the replayed topic", 2, 100000),
                "partitions": _PARTS,
                "num_keys": _KEYS,
                "seek_offset": Param(int, "offset seek:offset starts at", 0, 100000),
                "retained_messages": Param(int, "messages read before going offline", 1, 10000),
                "offline_messages": Param(int, "messages written while offline", 1, 10000),
                "retention_ms": Param(int, "retention.ms of the retained topic", 200, 5000),
            },
        ),
        Lab(
            "hot_partitions",
            run_hot_partitions,
            "Zipf keys make a hot partition: skew, per-partition lag, salting",
            {
                "key_distribution": Param(str, "key distribution", choices=KEY_DISTRIBUTIONS),
                "rate_per_s": _RATE,
                "window_s": _WINDOW,
                "partitions": _PARTS,
                "num_keys": _KEYS,
                "zipf_s": Param(float, "Zipf exponent", 0.5, 3),
                "service_rate_per_s": Param(float, "per-partition processing rate", 10, 5000),
                "salt_buckets": Param(int, "salt buckets per key (0 = no salting)", 0, 64),
            },
        ),
        Lab(
            "idempotency",
            run_idempotency,
            "a crash before the commit: duplicates, dedupe with SET NX, or loss",
            {
                "messages": Param(int, "messages in the topic", 2, 100000),
                "crash_after": Param(int, "side effects before the crash", 1, 100000),
                "commit_every": Param(int, "messages per commit", 1, 100000),
                "num_keys": _KEYS,
                "dedupe_ttl_s": Param(int, "TTL of the dedupe keys (s)", 1, 86400),
                "producer": Param(str, "producer settings", choices=tuple(PRODUCERS)),
            },
        ),
        Lab(
            "ordering",
            run_ordering,
            "per-key order with a stable key, no global order, a rebalance",
            {
                "messages": Param(int, "messages in the topic", 10, 20000),
                "partitions": _PARTS,
                "num_keys": _KEYS,
                "service_rate_per_s": Param(float, "processing rate per consumer", 50, 5000),
                "rebalance_at_s": Param(float, "when the second consumer joins (s)", 0.05, 100),
                "commit_every": Param(int, "messages per commit", 1, 20000),
                "commit_on_revoke": Param(bool, "commit in the rebalance listener"),
            },
        ),
        Lab(
            "backpressure",
            run_backpressure,
            "a slow subscriber is dropped by Redis; a slow Kafka consumer lags",
            {
                "rate_per_s": Param(float, "messages published per second", 10, 3000),
                "window_s": Param(float, "seconds of publishing", 0.5, 5),
                "message_bytes": Param(int, "message size in bytes", 16, 262144),
                "service_rate_per_s": Param(float, "processing rate of every reader", 10, 3000),
                "slow_rate_per_s": Param(float, "processing rate of subscriber:slow", 1, 3000),
                "buffer_limit_bytes": Param(
                    int, "client-output-buffer-limit pubsub hard limit", 65536, 33554432
                ),
                "shed_limit": Param(int, "local queue bound of the shed policy", 1, 100000),
                "num_keys": _KEYS,
            },
        ),
        Lab(
            "poison",
            run_poison,
            "retries with backoff, a dead-letter topic, reprocessing",
            {
                "messages": Param(int, "messages in the topic", 1, 20000),
                "poison_fraction": Param(float, "share of messages that always fail", 0, 0.5),
                "transient_fraction": Param(
                    float, "share that fail on the first attempt only", 0, 0.5
                ),
                "max_retries": Param(int, "retries before dead-lettering", 0, 10),
                "backoff_ms": Param(float, "first retry backoff (doubles)", 0, 1000),
                "num_keys": _KEYS,
            },
        ),
        Lab(
            "streams",
            run_streams,
            "Redis Streams: PEL, crash, XAUTOCLAIM, XACK; vs Kafka offsets",
            {
                "messages": Param(int, "entries in the stream", 2, 100000),
                "batch": Param(int, "XREADGROUP COUNT and Kafka commit interval", 1, 1000),
                "crash_after": Param(int, "entries processed before the crash", 1, 100000),
                "min_idle_ms": Param(int, "XAUTOCLAIM min-idle-time", 10, 5000),
                "maxlen": Param(int, "XADD MAXLEN ~ (0 = no trimming)", 0, 1000000),
                "num_keys": _KEYS,
            },
        ),
        Lab(
            "hybrid",
            run_hybrid,
            "Kafka as the source of truth, Pub/Sub for a live view rebuilt from Kafka",
            {
                "rate_per_s": Param(float, "events per second", 1, 2000),
                "window_s": _WINDOW,
                "down_from_s": Param(float, "when the live view disconnects (s)", 0, 10),
                "down_for_s": Param(float, "how long it stays away (s)", 0.05, 10),
                "partitions": _PARTS,
                "num_keys": _KEYS,
            },
        ),
    )
}


def get(name: str) -> Lab:
    """The lab called ``name`` (``-`` and ``_`` are interchangeable)."""
    key = name.replace("-", "_")
    if key not in LABS:
        raise KeyError(f"no lab named {name!r}; labs are {', '.join(LABS)}")
    return LABS[key]


def run(name: str, *, seed: int = 0, **params: Any) -> Result:
    """Run lab ``name`` with ``params`` (unknown names are rejected)."""
    lab = get(name)
    unknown = set(params) - set(lab.params)
    if unknown:
        raise ValueError(
            f"lab {lab.name!r} has no parameter(s) {sorted(unknown)}; "
            f"its parameters are {sorted(lab.params)}"
        )
    return lab.run(seed=seed, **params)

"""The twins by name (as declared with their experiments), and building one from keyword
parameters."""

from __future__ import annotations

from typing import Any

from labs.experiments import EXPERIMENTS
from labs.twins.cache_staleness import CacheStalenessTwin
from labs.twins.core import Twin
from labs.twins.failover import FailoverTwin
from labs.twins.hot_partitions import HotPartitionsTwin
from labs.twins.idempotency import IdempotencyTwin
from labs.twins.lag import LagTwin
from labs.twins.loss import LossTwin
from labs.twins.partitioners import PartitionersTwin
from labs.twins.rebalance import RebalanceTwin
from labs.twins.retention import RetentionTwin
from labs.twins.throughput import ThroughputTwin
from labs.twins.zombie import ZombieTwin

TWINS: dict[str, type[Twin]] = {
    cls.name: cls
    for cls in (
        LossTwin,
        LagTwin,
        HotPartitionsTwin,
        IdempotencyTwin,
        PartitionersTwin,
        RebalanceTwin,
        RetentionTwin,
        ZombieTwin,
        ThroughputTwin,
        FailoverTwin,
        CacheStalenessTwin,
    )
}
if set(TWINS) != {n for e in EXPERIMENTS.values() for n in e.twins}:
    raise RuntimeError("every twin class must be declared with its experiment (Experiment.twins)")
ALIASES = {
    "replay": "lag",
    "hot-partitions": "hot_partitions",
    "cache-staleness": "cache_staleness",
}


def resolve(name: str) -> type[Twin]:
    """The twin class called ``name`` (or one of its aliases)."""
    key = ALIASES.get(name, name)
    if key not in TWINS:
        raise ValueError(f'"name" must be one of {sorted(TWINS)}, got {name!r}.')
    return TWINS[key]


def twin(name: str, **params: Any) -> Twin:
    """Twin ``name`` with ``params``; an unknown parameter is an error naming the allowed."""
    return resolve(name)(**params)

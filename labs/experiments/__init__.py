"""The experiments, each declared once (see :class:`Experiment`).

``EXPERIMENTS`` maps a name to its :class:`Experiment`: parameters with ranges and
defaults, the real lab, the simulator's scenario builder, the twins and the lesson. The
labs validate with it, ``python -m labs`` builds its options from it, the twins take
their parameter sets from it and the notebooks their sliders.

>>> EXPERIMENTS["loss"].params["rate_per_s"].describe()
'1..10000 msg/s: messages published per second'
"""

from __future__ import annotations

from labs.experiments.backpressure import BACKPRESSURE
from labs.experiments.base import Experiment, Timing
from labs.experiments.compaction import COMPACTION
from labs.experiments.durability import DURABILITY
from labs.experiments.hot_partitions import HOT_PARTITIONS
from labs.experiments.hybrid import HYBRID
from labs.experiments.idempotency import IDEMPOTENCY
from labs.experiments.loss import LOSS
from labs.experiments.ordering import ORDERING
from labs.experiments.outbox import OUTBOX
from labs.experiments.partitioners import PARTITIONERS
from labs.experiments.poison import POISON
from labs.experiments.rebalance import REBALANCE
from labs.experiments.reconnect import RECONNECT
from labs.experiments.redis_durability import REDIS_DURABILITY
from labs.experiments.replay import REPLAY
from labs.experiments.retention import RETENTION
from labs.experiments.streams import STREAMS
from labs.experiments.streams_ops import STREAMS_OPS
from labs.experiments.throughput import THROUGHPUT
from labs.experiments.transactions import TRANSACTIONS
from labs.experiments.zombie import ZOMBIE

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        LOSS,
        REPLAY,
        HOT_PARTITIONS,
        IDEMPOTENCY,
        ORDERING,
        BACKPRESSURE,
        POISON,
        STREAMS,
        HYBRID,
        DURABILITY,
        PARTITIONERS,
        REBALANCE,
        ZOMBIE,
        RETENTION,
        THROUGHPUT,
        REDIS_DURABILITY,
        STREAMS_OPS,
        RECONNECT,
        COMPACTION,
        TRANSACTIONS,
        OUTBOX,
    )
}


def get(name: str) -> Experiment:
    """The experiment called ``name`` (``-`` and ``_`` are interchangeable)."""
    key = name.replace("-", "_")
    if key not in EXPERIMENTS:
        raise KeyError(f"no experiment named {name!r}; experiments are {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[key]


__all__ = ["EXPERIMENTS", "Experiment", "Timing", "get"]

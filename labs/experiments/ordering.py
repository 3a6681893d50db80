"""The ordering experiment: per-key order with a stable key, no global order, a rebalance.

Declared once here: the lab's parameters. Lab: :func:`labs.ordering.run_ordering`; lesson:
``04_ordering`` (whose simulator exploration is the bundled scenario it loads).
Theory: one key goes to one partition, and a partition is read in order.
"""

from __future__ import annotations

from labs.experiments.base import Experiment
from labs.params import Bound, Param, Params

PARAMS = Params(
    (
        Param("messages", 600, "messages in the topic", 10, 20000),
        Param("partitions", 4, "partitions of the topic", 1, 32),
        Param("num_keys", 20, "number of distinct keys", 1, 100000),
        Param("service_rate_per_s", 300.0, "processing rate per consumer", 50, 5000, step=10,
              unit="msg/s"),
        Param("rebalance_at_s", 0.3, "when the second consumer joins", 0.05, 100, step=0.05,
              unit="s"),
        Param("commit_every", 50, "messages per commit", 1, 20000),
        Param("commit_on_revoke", False, "commit in the rebalance listener"),
    ),
    (
        Bound(
            "rebalance_at_s",
            "while the first consumer is still busy: at most messages / service_rate_per_s",
            high=lambda v: v["messages"] / v["service_rate_per_s"],
        ),
        Bound("commit_every", "at most messages", high=lambda v: v["messages"]),
    ),
)  # fmt: skip


def workload(*, messages: int, num_keys: int, **_):
    from sim.core.scenario import Workload

    return Workload(rate_per_s=10000.0, messages=messages, arrivals="constant", keys=num_keys)


ORDERING = Experiment(
    name="ordering",
    summary="per-key order with a stable key, no global order, a rebalance",
    params=PARAMS,
    lab="labs.ordering:run_ordering",
    lesson="04_ordering",
    theory="no per-key inversions with a stable key; global order only with one partition",
)

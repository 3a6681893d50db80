"""Kafka partition assignors: which member of a consumer group owns which partition.

The two classic strategies of ``partition.assignment.strategy``: ``range`` (contiguous
ranges of partitions per member) and ``roundrobin`` (partitions dealt out in turn).

>>> assign([0, 1], 5, "range").tolist(), assign([0, 1], 5, "roundrobin").tolist()
([0, 0, 0, 1, 1], [0, 1, 0, 1, 0])
"""

from __future__ import annotations

import numpy as np


def assign(members: list[int], partitions: int, strategy: str) -> np.ndarray:
    """Owner (member index) of every partition; -1 when there are no members.

    ``range``: contiguous ranges, the first ``partitions % len(members)`` members get one
    more; ``roundrobin``: partition ``p`` goes to the ``p % len(members)``-th member.
    """
    owner = np.full(partitions, -1, np.int64)
    m = sorted(members)
    if not m:
        return owner
    if strategy == "roundrobin":
        return np.array([m[p % len(m)] for p in range(partitions)], np.int64)
    per, extra = divmod(partitions, len(m))
    p = 0
    for i, c in enumerate(m):
        k = per + (1 if i < extra else 0)
        owner[p : p + k] = c
        p += k
    return owner

"""Faults: a schedule of ``(kind, target, start_s, duration_s)`` entries, and its effects.

A fault schedule is data: :class:`Fault` rows, checked at construction. Two families share
the class: the faults of a scenario (:data:`SCENARIO_FAULTS`: subscribers down, consumers
crashing, leaders unavailable, ...) and the faults of a replicated cluster
(:data:`CLUSTER_FAULTS`: kill the leader, freeze the followers, restart everything), which
the durability lab and its twin (:mod:`sim.course.durability`) play. This module answers the two
questions the channels ask about it: *which time windows is this target out?* -- as
merged ``(start, end)`` arrays, with a vectorised "is this instant inside a window" mask
for whole message arrays -- and *what happens when?* -- :func:`fault_process` is the
SimPy process that calls a component's ``on_start`` / ``on_end`` at the right instants,
so control changes (crashes, rebalances, reconnects) live on SimPy's timeline while the
message flow between them is computed in bulk.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from sim.core.validation import check_choice, check_number, check_str

#: The faults of a scenario, and the target kinds each may hit.
SCENARIO_FAULTS = {
    "subscriber_down": ("subscriber",),
    "consumer_crash": ("group", "stream-group"),
    "consumer_leave": ("group",),
    "consumer_stall": ("group",),  # past max_poll_interval_ms: a zombie (sim.models.zombie)
    "network_flap": ("subscriber", "group", "stream-group"),
    "slow_consumer": ("subscriber", "group", "stream-group"),
    "leader_unavailable": ("partition", "log"),
    "broker_down": ("pubsub", "log", "stream"),
    "producer_restart": ("log",),
}
#: The faults of a replicated cluster (the durability lab), and their target kinds.
CLUSTER_FAULTS = {
    "kill-leader": ("partition",),
    "freeze-followers": ("partition",),
    "restart-all": ("cluster",),
}
FAULT_KINDS = (*SCENARIO_FAULTS, *CLUSTER_FAULTS)
#: Target kinds, with how many indices follow them (``group:0:1`` = consumer 1 of group 0).
TARGETS = {
    "subscriber": 1,
    "group": 2,
    "stream-group": 2,
    "partition": 1,
    "pubsub": 0,
    "log": 0,
    "stream": 0,
    "cluster": 0,
}
_TARGET = re.compile(r"^([a-z-]+)((?::\d+)*)$")


@dataclass(frozen=True)
class Fault:
    """One fault: ``kind`` hits ``target`` from ``start_s`` for ``duration_s`` seconds.

    Scenario kinds and targets: ``subscriber_down`` (``subscriber:i``), ``consumer_crash``
    and ``consumer_leave`` (``group:g:c`` or ``stream-group:g:c``; the consumer restarts at
    the end), ``network_flap`` (a subscriber or a consumer loses the network),
    ``slow_consumer`` (service times multiplied by ``factor``), ``leader_unavailable``
    (``partition:p`` or ``log``), ``broker_down`` (``pubsub``, ``log`` or ``stream``) and
    ``producer_restart`` (``log``: :mod:`sim.models.restarts`).

    Cluster kinds (:mod:`sim.course.durability`): ``kill-leader`` (SIGKILL the broker
    leading ``partition:p``; it restarts after ``duration_s``), ``freeze-followers``
    (SIGSTOP its other replicas; SIGCONT after ``duration_s``) -- with ``duration_s`` 0 both
    last until the next ``restart-all`` (target ``cluster``, ``duration_s`` 0), which thaws
    every frozen node and starts every killed one.
    """

    kind: str
    target: str
    start_s: float
    duration_s: float = 0.0
    factor: float = 1.0

    def __post_init__(self) -> None:
        check_choice(self, "kind", FAULT_KINDS)
        check_str(self, "target")
        check_number(self, "start_s", 0.0, 1e8)
        check_number(self, "duration_s", 0.0, 1e8)
        check_number(self, "factor", 0.0, 1e6, lo_open=True)
        m = _TARGET.match(self.target)
        if not m or TARGETS.get(m.group(1)) != m.group(2).count(":"):
            raise ValueError(
                f'Fault "target" must look like subscriber:0, group:0:1, stream-group:0:0, '
                f"partition:3, pubsub, log, stream or cluster; got {self.target!r}."
            )
        allowed = {**SCENARIO_FAULTS, **CLUSTER_FAULTS}[self.kind]
        if self.target_kind not in allowed:
            raise ValueError(
                f'Fault "target" of a {self.kind} must be a {" or ".join(allowed)}, '
                f"got {self.target!r}."
            )
        if self.kind == "restart-all" and self.duration_s:
            raise ValueError(
                f'Fault "duration_s" of a restart-all must be 0, got {self.duration_s}.'
            )

    @property
    def end_s(self) -> float | None:
        """When the fault ends by itself: ``start_s + duration_s``, or None for a cluster
        fault of ``duration_s`` 0 (it lasts until the next ``restart-all``)."""
        if self.kind in CLUSTER_FAULTS and not self.duration_s:
            return None
        return self.start_s + self.duration_s

    @property
    def target_kind(self) -> str:
        return self.target.split(":")[0]

    @property
    def target_index(self) -> tuple[int, ...]:
        return tuple(int(x) for x in self.target.split(":")[1:])


def windows(
    faults: Iterable[Fault], kinds: Sequence[str], targets: Sequence[str], extra_s: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Merged, sorted windows ``[start, end + extra_s)`` of faults of ``kinds`` that hit any
    of ``targets``."""
    spans = sorted(
        (f.start_s, f.end_s + extra_s) for f in faults if f.kind in kinds and f.target in targets
    )
    return merge(spans)


def merge(spans: Iterable[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Union of half-open intervals, as sorted ``starts`` and ``ends`` arrays."""
    out: list[list[float]] = []
    for s, e in sorted(spans):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    arr = np.array(out, dtype=float).reshape(-1, 2)
    return arr[:, 0].copy(), arr[:, 1].copy()


def inside(t: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Mask of instants ``t`` inside any window ``[starts[i], ends[i])`` (windows disjoint
    and sorted)."""
    if starts.size == 0:
        return np.zeros(np.shape(t), bool)
    i = np.searchsorted(starts, t, side="right") - 1
    ok = i >= 0
    res = np.zeros(np.shape(t), bool)
    res[ok] = t[ok] < ends[i[ok]]
    return res


def covered(starts: np.ndarray, ends: np.ndarray, lo: float, hi: float) -> float:
    """Length of the part of ``[lo, hi)`` covered by the windows."""
    return float(np.clip(np.minimum(ends, hi) - np.maximum(starts, lo), 0, None).sum())


def fault_process(
    env, fault: Fault, on_start: Callable[[Fault], None], on_end: Callable[[Fault], None]
):
    """SimPy process: call ``on_start(fault)`` at its start and ``on_end(fault)`` at its end."""
    yield env.timeout(fault.start_s)
    on_start(fault)
    yield env.timeout(fault.duration_s)
    on_end(fault)

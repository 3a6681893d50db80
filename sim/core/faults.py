"""Faults: a schedule of ``(kind, target, start_s, duration_s)`` entries, and its effects.

A fault schedule is data (:class:`~sim.core.scenario.Fault`). This module answers the two
questions the channels ask about it: *which time windows is this target out?* -- as
merged ``(start, end)`` arrays, with a vectorised "is this instant inside a window" mask
for whole message arrays -- and *what happens when?* -- :func:`fault_process` is the
SimPy process that calls a component's ``on_start`` / ``on_end`` at the right instants,
so control changes (crashes, rebalances, reconnects) live on SimPy's timeline while the
message flow between them is computed in bulk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from sim.core.scenario import Fault


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

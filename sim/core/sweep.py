"""Sweeps: a dict of lists expanded over a base scenario, run in parallel.

``{"workload.rate_per_s": [500, 1000], "consumers.groups.0.consumers": [1, 2, 4]}``
expands (``itertools.product``) into six scenarios, each run for every seed. Runs go
through a standard :class:`concurrent.futures.Executor` -- a process pool by default,
or any executor you pass (a thread pool, a cluster's), since a run is a plain function
of picklable data. A sweep shows its progress (:mod:`sim.progress`), counting runs as
their results arrive, in grid order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

import sim.progress as progress
from sim.analysis.result import Result
from sim.core.engine import run
from sim.core.scenario import Scenario


def expand(base: Scenario, grid: Mapping[str, Sequence[Any]]) -> list[tuple[dict, Scenario]]:
    """Every combination of ``grid`` applied to ``base``, as ``(changes, scenario)``."""
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise TypeError(f'sweep "{key}" must map to a list of values, got {values!r}.')
    keys = list(grid)
    out = []
    for combo in itertools.product(*(list(grid[k]) for k in keys)):
        changes = dict(zip(keys, combo, strict=True))
        label = ",".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in changes.items())
        sc = base.with_changes(**changes)
        sc = sc.with_changes(name=f"{base.name}[{label}]") if label else sc
        out.append((changes, sc))
    return out


def _one(scenario: Scenario, seed: int) -> Result:
    return run(scenario, seed=seed)


def sweep(
    base: Scenario,
    grid: Mapping[str, Sequence[Any]],
    seeds: Iterable[int] = (0,),
    executor: Executor | None = None,
    max_workers: int | None = None,
) -> list[Result]:
    """Run every point of ``grid`` for every seed; results in grid order, seeds inner."""
    seeds = list(seeds)
    jobs = [(sc, s) for _, sc in expand(base, grid) for s in seeds]
    with progress.task(f"sweep of {base.name}", total=len(jobs), unit="runs") as shown:
        if executor is None:
            with ProcessPoolExecutor(max_workers=max_workers) as pool:
                return _collect(pool.map(_one, *zip(*jobs, strict=True)), shown)
        return _collect(executor.map(_one, *zip(*jobs, strict=True)), shown)


def _collect(results: Iterable[Result], shown: progress.Task) -> list[Result]:
    out = []
    for result in results:
        out.append(result)
        shown.advance()
    return out

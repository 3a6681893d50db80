"""Running a scenario: ``sim.run(scenario, seed=...) -> Result``.

One run generates the workload as arrays, starts every broker model present in the
topology (:data:`sim.models.registry.MODELS`, through the interface of
:mod:`sim.models.base`), lets SimPy drive the control timeline (faults, rebalances,
reconnects, stream members) while each model computes its message flow in bulk, and
finally assembles what the models hand back -- readers, series, metrics -- with the
history and the checker's report into a :class:`~sim.analysis.result.Result` with
``source = "simulator"``. The engine knows no model by name.

Random streams come from one seed, split with ``numpy.random.SeedSequence(seed).spawn``:
the workload (arrivals, keys, sizes, poison), the producer, every subscriber, every group
and every stream group draw from their own stream, so the same seed always gives the
same result and adding a subscriber does not change what a consumer group sees.

Names used in the result (reader, series and metric names):

- readers: ``subscriber:i``, ``group:g``, ``stream-group:g``, and ``dlq:group:g`` /
  ``dlq:stream-group:g`` when the workload has poison messages;
- series: ``lag:group:g`` (messages), ``lag:group:g:p<k>`` (per partition),
  ``lag_rate:group:g`` (messages/s), ``lag_accel:group:g`` (messages/s^2),
  ``lag:stream-group:g``, ``receivers`` (subscribers reached by each PUBLISH);
- metrics: ``peak_lag:<group>``, ``peak_lag_time_s:<group>``, ``catch_up_s:<group>``,
  ``recovery_s:<group>`` (after its last outage), ``lag_accel_max:<group>``,
  ``rebalances:<group>``, ``redelivered:<group>``, ``skipped:<group>`` (at-most-once and
  retention), ``dlq:<group>`` and ``dlq`` (total), ``dropped_poison:<group>`` (with
  ``dlq: false``), ``throughput_per_s:partition:k``,
  ``partition_skew``, ``disconnects:subscriber:i``, ``buffer_disconnects:subscriber:i``,
  ``max_buffer_bytes:subscriber:i``, ``down_fraction:subscriber:i``,
  ``failed:subscriber:i``, ``mean_receivers``, ``producer_duplicates``,
  ``truncated_on_failover``, ``expired_sends``, ``claimed:<stream-group>``,
  ``pending_end:<stream-group>``, ``window_s``, ``messages``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from sim.analysis.result import Result
from sim.core.history import OK, History
from sim.core.scenario import Scenario
from sim.core.workload import Messages, check_messages, generate
from sim.models.base import Collected, RunContext, seed_streams
from sim.models.registry import MODELS


def load(scenario: Scenario | Mapping | str | Path) -> Scenario:
    """A scenario from a :class:`Scenario`, a mapping, a YAML path or a bundled name."""
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, Mapping):
        return Scenario.from_dict(scenario)
    path = Path(scenario)
    if not path.exists():
        bundled = Path(__file__).parents[1] / "scenarios" / f"{path.stem}.yaml"
        if bundled.exists():
            path = bundled
    return Scenario.from_yaml(path)


def settings_of(s: Scenario) -> dict[str, Any]:
    """The settings that decide the outcome, flat, for :attr:`Result.settings`."""
    out: dict[str, Any] = {}
    for m in MODELS:
        settings = getattr(s.topology, m.section)
        if settings is not None:
            out.update(m.settings_of(settings, getattr(s.consumers, m.readers_field)))
    return out


def run(
    scenario: Scenario | Mapping | str | Path,
    seed: int = 0,
    *,
    name: str | None = None,
    messages: Messages | None = None,
) -> Result:
    """Simulate ``scenario`` with ``seed``; the same seed always gives the same result.

    ``messages`` publishes exactly these sends (times, keys, sizes, poison marks) instead of
    drawing them from the scenario's workload: a twin hands the simulator the very sequence
    its lab sent. Every other random stream (producer, subscribers, groups) still comes
    from ``seed``.
    """
    sc = load(scenario)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'"seed" must be a non-negative integer, got {seed!r}.')
    names = seed_streams(MODELS)
    seeds = dict(zip(names, np.random.SeedSequence(int(seed)).spawn(len(names)), strict=True))
    msgs = (
        generate(sc.workload, seeds["workload"].spawn(4))
        if messages is None
        else check_messages(messages)
    )
    n = len(msgs)
    window = msgs.window_s
    last_fault = max((f.end_s for f in sc.faults), default=0.0)
    end_time = max(window, sc.workload.duration_s if sc.workload.messages is None else 0.0)
    end_time = max(end_time, last_fault) + sc.drain_s

    env = simpy.Environment()
    ctx = RunContext(env, msgs, sc.faults, end_time, seeds)
    present = [m for m in MODELS if getattr(sc.topology, m.section) is not None]
    running = [
        m.start(getattr(sc.topology, m.section), getattr(sc.consumers, m.readers_field), ctx)
        for m in present
    ]
    env.run(until=end_time + 1e-9)

    outcome = np.full(n, OK, np.int8)
    if running:
        decides = max(range(len(present)), key=lambda i: present[i].precedence)
        outcome = running[decides].outcome()
    grid = np.linspace(0.0, end_time, sc.lag_points)
    metrics: dict[str, float] = {"messages": float(n), "window_s": window}
    out = Collected()
    dead_lettered = []
    for r in running:
        c = r.collect(outcome, grid)
        out.readers += c.readers
        out.dead_letters += c.dead_letters
        out.series.update(c.series)
        metrics.update(c.metrics)
        if c.dead_lettered is not None:
            dead_lettered.append(c.dead_lettered)
        if c.partition is not None:
            out.partition = c.partition
    if dead_lettered:
        metrics["dlq"] = float(sum(dead_lettered))

    history = History(
        keys=msgs.keys,
        publish_time=msgs.publish_time,
        outcome=outcome,
        readers=tuple(out.readers + out.dead_letters),
        partition=out.partition,
        end_time=end_time,
    )
    return Result.from_history(
        name or sc.name,
        "simulator",
        history,
        seed=int(seed),
        params=sc.to_dict(),
        settings=settings_of(sc),
        series=out.series,
        metrics=metrics,
    )


__all__ = ["run", "load", "settings_of", "Messages"]

"""What every twin shares: the same messages in both halves, and one way to measure lag.

**The same workload.** A lab draws its arrival times and keys with the simulator's own
generator (:func:`labs.workload.draw`, the streams ``sim.run`` uses for the same seed). A
lab's sends are late by a few milliseconds on a busy machine, so a twin hands the simulator
the lab's key sequence at the lab's real send instants: :func:`simulate` runs
:func:`sim.run` with ``messages=`` that :class:`~sim.core.workload.Messages`.
Everything else -- topology, consumers, faults, calibration -- comes from the scenario.

**One lag measure.** Lab and simulator report lag with slightly different definitions (the
simulator from offsets, the labs from messages sent minus processed), so a twin measures
both histories with the same function, :func:`lag_stats`: acknowledged messages published
by ``t`` minus distinct messages processed by ``t``, on a 5 ms grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import sim
from sim.analysis.metrics import published_lag
from sim.analysis.result import Result
from sim.core.history import OK, History
from sim.core.scenario import Scenario
from sim.core.workload import Messages

#: Grid step (s) of the lag measure.
LAG_STEP_S = 0.005
#: Catch-up ends when the lag is back to this share of its peak (or at most ``LAG_FLOOR``).
#: Not lower: a real consumer that has worked off the batch it fetched on rejoining goes on
#: with small polls, each followed by a synchronous commit, and drains the last part of the
#: lag more slowly than its processing rate says -- a client detail the simulator does
#: not model. Measuring to 20 % of the peak keeps the comparison on the drain itself.
CATCH_UP_SHARE = 0.20
LAG_FLOOR = 5.0


def simulate(scenario: Scenario, msgs: Messages, *, seed: int, name: str) -> Result:
    """``sim.run(scenario, seed, messages=msgs)``: the simulator publishes exactly ``msgs``."""
    return sim.run(scenario, seed=seed, name=name, messages=msgs)


def same_keys(history: History, keys: np.ndarray) -> bool:
    """True if ``history`` sent exactly the key sequence ``keys``."""
    return np.array_equal(history.keys, np.asarray(keys, np.int64))


@dataclass(frozen=True)
class LagStats:
    """Peak lag (messages), when it happened (s), and the catch-up time (s) from the peak
    until the lag is back under ``threshold``."""

    peak: float
    peak_time_s: float
    catch_up_s: float
    threshold: float


def lag_curve(result: Result, reader: str) -> tuple[np.ndarray, np.ndarray]:
    """``(t, lag)`` of ``reader`` in ``result`` on the 5 ms grid: acknowledged messages it
    should process that were published by ``t``, minus distinct ones it processed by ``t``."""
    h = result.history
    r = h.reader(reader)
    acked = h.outcome == OK
    expected = acked if r.expected is None else (r.expected & acked)
    end = float(max(h.publish_time.max(initial=0.0), r.times.max(initial=0.0)))
    grid = np.arange(0.0, end + 2 * LAG_STEP_S, LAG_STEP_S)
    one = History(
        h.keys, h.publish_time, h.outcome, (type(r)(r.name, r.ids, r.times, expected=expected),)
    )
    return grid, published_lag(one, one.readers[0], grid)


def lag_stats(result: Result, reader: str) -> LagStats:
    """The lag of ``reader`` in ``result`` (see the module docstring)."""
    grid, lag = lag_curve(result, reader)
    if lag.size == 0:
        return LagStats(0.0, float("nan"), float("nan"), LAG_FLOOR)
    i = int(np.argmax(lag))
    peak = float(lag[i])
    threshold = max(LAG_FLOOR, CATCH_UP_SHARE * peak)
    below = np.flatnonzero(lag[i:] <= threshold)
    catch_up = float(grid[i + below[0]] - grid[i]) if below.size else float("nan")
    return LagStats(peak, float(grid[i]), catch_up, threshold)

"""The failover twin: acknowledged writes lost when a Redis primary dies and its asynchronous
replica is promoted -- real vs simulator, at two write rates; and none with ``WAIT``.

**Real half.** The failover runs of :func:`labs.redis_durability.run_redis_durability`
(its restart runs come along; they are not compared here): a primary and a replica behind
a link delaying each way ``lag_ms``, writes at ``rate_per_s`` and ``high_rate_per_s``, the
link cut and the primary SIGKILLed ``kill_after_s`` in, the replica promoted.

**Calibration** (:class:`FailoverCalibration`), from the same run: the link's measured
one-way delay per chunk (median and 99th percentile over all four failover runs) and the
instant each primary really died (the crash timer's, on a loaded machine later than asked).

**Simulator half.** :func:`sim.models.replication.simulate_failover` with the same rate,
tick and kill instant, and the link's delay: the measured median, plus an exponential part
of mean ``p99 - p50`` (the relay's own lateness).

**Rows and tolerances.** Per rate, acknowledged writes lost on failover: theory ``rate *
lag``; simulator and real within ``rate * (2 tick + (p99 - p50) + stall) + 2`` writes of each
other, where a writer's batch is one tick of writes (the kill cuts between two batches: one
either way), the jitter moves the window's edge by ``rate * jitter``, and ``stall`` is
:data:`STALL_MS` -- a loaded machine that delays the crash timer or a relay thread by that
much moves the same number of writes; plus two writes for the edges. The theory within the
same band. With ``WAIT`` the lost count is exact: 0. WAIT's p50 latency within ±35 % of the
simulator's (the simulator's WAIT takes one round trip on the link; the real one sometimes
one more delay, when the replica's ACK for a batch crosses the primary's next ``GETACK``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from labs.experiments.redis_durability import RATES, REDIS_DURABILITY
from labs.redis_durability import TICK_MS
from labs.twins.core import Twin
from labs.twins.result import Row, TwinResult
from sim.analysis.result import Result
from sim.core.history import OK, UNKNOWN, History, ReaderHistory
from sim.models.replication import FailoverRun, Lag, expected_failover_loss, simulate_failover

#: A stall of the loaded machine (ms) the loss's tolerance allows for (see the docstring).
STALL_MS = 10.0
#: WAIT's p50 latency: relative tolerance, real vs simulator.
WAIT_P50_TOLERANCE = 0.35

MEANING = {
    "link_lag_p50_ms": "the link's one-way delay per chunk, median (ms)",
    "link_lag_p99_ms": "the link's one-way delay per chunk, 99th percentile (ms)",
}


@dataclass(frozen=True)
class FailoverCalibration:
    """What the real run measured that the simulator takes (see :data:`MEANING`)."""

    link_lag_p50_ms: float
    link_lag_p99_ms: float
    kill_at_s: dict[str, float] = field(default_factory=dict)
    measured_at: str = ""

    def describe_fields(self) -> list[tuple[str, str]]:
        return list(MEANING.items())

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in MEANING} | {"measured_at": self.measured_at}

    def table(self) -> str:
        lines = [f"calibration (the lab's own run, measured at {self.measured_at}):"]
        lines += [f"  {k:<18} {getattr(self, k):>10.3f}  {m}" for k, m in MEANING.items()]
        return "\n".join(lines)

    @property
    def lag(self) -> Lag:
        """The measured delay as a constant plus an exponential of mean ``m``: an
        exponential's p99 - p50 is ``m ln 50`` and its median ``m ln 2``."""
        m = max(self.link_lag_p99_ms - self.link_lag_p50_ms, 0.0) / np.log(50.0)
        return Lag(constant_ms=max(self.link_lag_p50_ms - m * np.log(2.0), 0.0), jitter_ms=m)


class FailoverTwin(Twin):
    """Acknowledged writes lost on a failover to an asynchronous replica (``rate * lag``),
    none confirmed by ``WAIT``: the lab's failover runs vs :mod:`sim.models.replication`."""

    EXPERIMENT = REDIS_DURABILITY
    name = "failover"
    summary = "Redis failover: acknowledged writes lost = rate x lag; none with WAIT"

    def calibrate_on(self, real: Result) -> FailoverCalibration:
        m = real.metrics
        p50 = [m[k] for k in m if k.startswith("link_lag_p50_ms:")]
        p99 = [m[k] for k in m if k.startswith("link_lag_p99_ms:")]
        kills = {k.split(":", 1)[1]: m[k] for k in m if k.startswith("kill_after_start_s:")}
        return FailoverCalibration(
            link_lag_p50_ms=float(np.median(p50)),
            link_lag_p99_ms=float(np.median(p99)),
            kill_at_s=kills,
            measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    def simulate_runs(self, cal: FailoverCalibration) -> dict[str, FailoverRun]:
        runs = {}
        for label, param in RATES.items():
            for wait in (False, True):
                key = f"{'wait' if wait else 'async'}:{label}"
                runs[key] = simulate_failover(
                    rate_per_s=getattr(self, param),
                    lag=cal.lag,
                    kill_s=cal.kill_at_s.get(key, self.kill_after_s),
                    wait=wait,
                    tick_ms=TICK_MS,
                    seed=self.seed,
                )
        return runs

    def simulate(self, cal: FailoverCalibration, real: Result | None = None) -> Result:  # type: ignore[override]
        runs = self.simulate_runs(cal)
        return Result.from_history(
            "failover (twin)",
            "simulator",
            _history(runs),
            seed=self.seed,
            params=self.lab_values(),
            settings={"lag": f"{cal.lag.constant_ms:.1f} ms + Exp({cal.lag.jitter_ms:.2f} ms)"},
            metrics={
                **{f"lost:{k}": run.lost for k, run in runs.items()},
                **{f"acked:{k}": run.acked for k, run in runs.items()},
                **{f"p50_ms:{k}": run.latency_ms(50) for k, run in runs.items()},
            },
        )

    def compare(self, real: Result, sim: Result, cal: FailoverCalibration) -> list[Row]:  # type: ignore[override]
        rows, m, s = [], real.metrics, sim.metrics
        spread = max(cal.link_lag_p99_ms - cal.link_lag_p50_ms, 0.0)
        for label, param in RATES.items():
            rate = getattr(self, param)
            tol = rate * (2 * TICK_MS + spread + STALL_MS) / 1000.0 + 2
            theory = expected_failover_loss(rate_per_s=rate, lag_ms=self.lag_ms)
            rows += [
                Row(
                    f"lost on failover at {rate:g}/s",
                    theory,
                    s[f"lost:async:{label}"],
                    m[f"lost_on_failover:{label}"],
                    tolerance=round(tol, 1),
                    theory_tolerance=round(tol, 1),
                ),
                Row(
                    f"lost with WAIT at {rate:g}/s",
                    0,
                    s[f"lost:wait:{label}"],
                    m[f"lost_with_wait:{label}"],
                    tolerance=0,
                    theory_tolerance=0,
                ),
                Row(
                    f"WAIT p50 latency at {rate:g}/s (ms)",
                    None,
                    s[f"p50_ms:wait:{label}"],
                    m[f"wait_p50_ms:{label}"],
                    tolerance=WAIT_P50_TOLERANCE,
                    relative=True,
                ),
                Row(
                    f"acknowledged before the kill at {rate:g}/s",
                    None,
                    s[f"acked:async:{label}"],
                    m[f"acked_async:{label}"],
                    tolerance=None,
                ),
            ]
        return rows

    def notes(self) -> tuple[str, ...]:
        return (
            "the link delays each way by lag_ms (labs.lag_link): on one machine a replica is "
            "never behind, and a cut is the primary's machine failing with its link.",
        )

    def run(self, calibration: Any = None) -> TwinResult:
        """Run the lab, calibrate on its link and kill instants, simulate, compare
        (``calibration`` is ignored: this twin calibrates on its own run)."""
        return self.run_calibrated_on_itself("running the real lab", "simulating the same writes")


def _history(runs: dict[str, FailoverRun]) -> History:
    """The simulated writes of every run, one reader per run (as the lab's history)."""
    due, outcome, readers, base = [], [], [], 0
    total = sum(r.due.size for r in runs.values())
    for key, run in runs.items():
        n = run.due.size
        acked = np.isfinite(run.acked_at)
        expected = np.zeros(total, bool)
        expected[base : base + n] = acked
        kept = base + np.flatnonzero(acked & run.on_replica)
        readers.append(
            ReaderHistory(key, kept, run.due[kept - base], expected=expected,
                          available=np.zeros(total, bool))
        )  # fmt: skip
        due.append(run.due + (due[-1][-1] + 1.0 if due else 0.0))
        outcome.append(np.where(acked, OK, UNKNOWN))
        base += n
    return History(
        keys=np.zeros(total, np.int64),
        publish_time=np.concatenate(due) if due else np.zeros(0),
        outcome=np.concatenate(outcome).astype(np.int8) if outcome else np.zeros(0, np.int8),
        readers=tuple(readers),
    )

"""The cache-staleness twin: stale reads of a client-side cache kept across a reconnect.

The real half is :func:`labs.reconnect.run_reconnect` (its cache part: two RESP3 clients
with ``CLIENT TRACKING on``, one flushing its cache on reconnect, another client updating
keys throughout). The simulator half is :mod:`sim.models.client_cache` replaying the same
operations -- :func:`~sim.models.client_cache.draw_ops` for the same seed is what the lab
executes -- plus the simulator's Pub/Sub subscriber with the lab's measured outage
repairing its gap from a stream (informational rows).

Tolerances. Real vs simulator: **exact** for the stale reads, the keys changed while away,
the cache hits and the invalidations received after the reconnect. Whether a read is stale
depends only on the order of the updates, the reconnect and the reads, which both halves
share; the lab waits for each invalidation (a PING on the tracking connection after every
update) so that no read races an invalidation still in flight -- the only timing that could
make them differ, a window under a millisecond. Against the theory (an expectation over
seeds): within **4 standard deviations** of the model's stale reads over 200 seeds with
these parameters (computed, not typed: :meth:`CacheStalenessTwin.theory_band`), so a
correct model and lab miss it about once in 15,000 runs.

>>> t = CacheStalenessTwin(cache_keys=50, updates_per_s=20.0)
>>> round(t.theory()["stale_reads_without_flush"], 1)
107.7
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

import sim
from labs.experiments import Timing
from labs.experiments.reconnect import RECONNECT, cache_scenario
from labs.twins.calibrate import Calibration, unmeasured
from labs.twins.core import Twin
from labs.twins.result import Row
from sim.analysis.result import Result
from sim.models import client_cache as cc

#: Seeds the theory band is measured over, and its width in standard deviations.
BAND_SEEDS = 200
BAND_SDS = 4.0


class CacheStalenessTwin(Twin):
    """A client-side cache across a reconnect: stale reads without the flush (theory,
    simulator, real Redis), none with it.

    Parameters and ranges: :data:`labs.experiments.reconnect.CACHE_TWIN`."""

    EXPERIMENT = RECONNECT

    name = "cache_staleness"
    summary = "client-side cache kept across a reconnect: stale reads; flushed: none"
    SEND_TIMES_FROM_LAB = False  # the simulator replays the lab's operations, not its sends

    def calibrate(self) -> Calibration:
        """Nothing to measure: staleness depends on the order of operations only."""
        return unmeasured()

    def model(self) -> cc.CacheScenario:
        return cache_scenario(**self.lab_values())

    def theory(self) -> dict[str, float]:
        c = self.model()
        return {
            "stale_reads_without_flush": cc.expected_stale_reads(c),
            "keys_updated_while_down": cc.expected_keys_updated_while_down(c),
        }

    @functools.cache  # noqa: B019 - a twin is immutable, hashable and short-lived
    def theory_band(self) -> float:
        """``BAND_SDS`` standard deviations of the model's stale reads without the flush."""
        c = self.model()
        stale = [cc.simulate(c, seed)["without_flush"].stale_reads for seed in range(BAND_SEEDS)]
        return BAND_SDS * float(np.std(stale, ddof=1))

    def simulate(self, cal: Calibration, real: Result | None = None) -> Result:
        """The Pub/Sub part with the lab's measured outage, the cache model's counts added."""
        timing = Timing(resubscribe_ms=0.0)
        if real is not None:
            closed, back = real.metrics["closed_at_s"], real.metrics["subscribed_at_s"]
            timing = Timing(resubscribe_ms=0.0, subscriber_down=(closed, back - closed))
        scenario = self.EXPERIMENT.build_scenario(timing, **self.lab_values())
        result = sim.run(scenario, seed=self.seed, name="cache_staleness (twin)")
        cache: dict[str, float] = {}
        for variant, counts in cc.simulate(self.model(), self.seed).items():
            cache[f"stale_reads_{variant}"] = counts.stale_reads
            cache[f"cache_hits_{variant}"] = counts.cache_hits
            cache[f"invalidations_after_reconnect_{variant}"] = counts.invalidations_after_reconnect
            cache["keys_updated_while_down"] = counts.keys_updated_while_down
            cache["cache_reads"] = counts.reads
        return dataclasses.replace(result, metrics=dict(result.metrics) | cache)

    def compare(self, real: Result, sim: Result, cal: Calibration) -> list[Row]:
        rm, sm, theory = real.metrics, sim.metrics, self.theory()
        nan = float("nan")

        def exact(label: str, key: str, want: float | None = None) -> Row:
            return Row(label, want, float(sm[key]), float(rm[key]))

        return [
            Row("stale reads without the flush", theory["stale_reads_without_flush"],
                float(sm["stale_reads_without_flush"]), float(rm["stale_reads_without_flush"]),
                tolerance=0.0, theory_tolerance=self.theory_band()),
            exact("stale reads with the flush", "stale_reads_with_flush", 0.0),
            Row("keys changed while away", theory["keys_updated_while_down"],
                float(sm["keys_updated_while_down"]), float(rm["keys_updated_while_down"])),
            exact("reads", "cache_reads"),
            exact("cache hits without the flush", "cache_hits_without_flush"),
            exact("cache hits with the flush", "cache_hits_with_flush"),
            exact("invalidations after the reconnect, kept cache",
                  "invalidations_after_reconnect_without_flush",
                  0.0 if self.tracking == "default" else None),
            exact("invalidations after the reconnect, flushed cache",
                  "invalidations_after_reconnect_with_flush"),
            Row("Pub/Sub gaps detected", 1.0, float(sm["gaps_detected:subscriber:0"]),
                float(rm["gaps_detected"])),
            Row("Pub/Sub messages missed (lab's outage)", nan, float(sm["missed:subscriber:0"]),
                float(rm["missed"]), tolerance=None),
            Row("Pub/Sub still missing after the repair", 0.0,
                float(sm["still_missing:subscriber:0"]), float(rm["still_missing"]),
                tolerance=None),
        ]  # fmt: skip

    def notes(self) -> tuple[str, ...]:
        return (
            "real vs simulator is exact: staleness depends only on the order of updates, "
            "reconnect and reads, the same in both (the lab reads every invalidation before "
            "the next operation, so none is in flight).",
            f"theory: within {BAND_SDS:g} standard deviations of the model's stale reads over "
            f"{BAND_SEEDS} seeds (the expectation over seeds; one run varies).",
            "Pub/Sub rows: the simulator's subscriber is away exactly as long as the lab's "
            "(closed -> SUBSCRIBE confirmed); messages in flight at the close make the "
            "missed counts differ by a few (information only).",
        )

"""The replay/lag twin: a Kafka consumer away for a while, then catching up from its offset.

The real half is the Kafka side of :func:`labs.loss.run_loss`: the consumer commits, leaves
its group for ``down_for_s`` seconds while events keep arriving at ``rate_per_s``, then a new
member resumes from the committed offset -- it replays the backlog -- processing at
``service_rate_per_s``. The simulator half is a ``consumer_leave`` fault over the same
interval with the calibrated rejoin time and effective processing time.

Theory: nothing is lost; the lag peaks near ``lambda * downtime`` and drains at ``mu -
lambda``, so catching up takes about ``backlog / (mu - lambda)``. Both halves are measured
with :func:`labs.twins.common.lag_stats` (catch-up = from the peak until the lag is back
under 20 % of it; the theory value is for the same threshold). The real consumer keeps
its pace on a schedule with batch sleeps (:mod:`labs.pacing`), so its service rate holds
from a few records a second to thousands; what it really reaches under the run's load is
measured by the calibration.

>>> LagTwin().theory()["peak_lag"]
37.5
"""

from __future__ import annotations

from labs.twins.calibrate import Calibration
from labs.twins.common import CATCH_UP_SHARE, LAG_FLOOR, lag_stats
from labs.twins.loss import OutageParams
from labs.twins.result import Row
from sim.analysis.result import Result

#: Tolerances of the acceptance criteria (relative to the simulator's value).
PEAK_LAG_TOLERANCE = 0.15
CATCH_UP_TOLERANCE = 0.25


class LagTwin(OutageParams):
    """Kafka keeps what an absent consumer missed: lag rises, then drains; nothing is lost.

    Parameters and ranges: :data:`labs.experiments.loss.LAG_TWIN` (``rate_per_s`` up to
    half of ``service_rate_per_s``, a backlog of at least
    :data:`~labs.experiments.loss.MIN_BACKLOG` messages; rates above what the lab's client
    sends or processes on this machine are refused with the measured figure).

    Why ``mu >= 2 lambda``: the catch-up time ``backlog / (mu - lambda)`` moves by the
    error of the consumer's rate times ``mu / (mu - lambda)``. The consumer keeps its
    schedule (batch sleeps, :mod:`labs.pacing`) within a few per cent, and the calibration
    measures what it really reaches when the interpreter is the limit; a factor of at most
    2 keeps that inside the 25 % tolerance. Backlogs of a few dozen messages or more keep
    the peak lag's relative error from rounding small.
    """

    name = "lag"
    summary = "consumer away for a while: Kafka keeps the backlog; peak lag and catch-up time"

    def theory(self) -> dict[str, float]:
        """Peak lag ``lambda * downtime``; catch-up ``(peak - threshold) / (mu - lambda)``,
        the drain time to the same threshold the measurement uses."""
        th = super().theory()
        peak = th["peak_lag"]
        threshold = max(LAG_FLOOR, CATCH_UP_SHARE * peak)
        th["catch_up_s"] = (peak - threshold) / (self.service_rate_per_s - self.rate_per_s)
        return th

    def compare(self, real: Result, sim: Result, cal: Calibration) -> list[Row]:
        th = self.theory()
        rg, sg = real.report["group:0"], sim.report["group:0"]
        rl, sl = lag_stats(real, "group:0"), lag_stats(sim, "group:0")
        return [
            *self.workload_rows(real, sim),
            Row("Kafka lost", th["kafka_lost"], float(sg.lost), float(rg.lost), tolerance=0),
            Row(
                "peak lag (messages)",
                th["peak_lag"],
                sl.peak,
                rl.peak,
                tolerance=PEAK_LAG_TOLERANCE,
                relative=True,
            ),
            Row(
                "catch-up time (s)",
                th["catch_up_s"],
                sl.catch_up_s,
                rl.catch_up_s,
                tolerance=CATCH_UP_TOLERANCE,
                relative=True,
            ),
            Row("peak lag at (s)", None, sl.peak_time_s, rl.peak_time_s, tolerance=None),
        ]

    def notes(self) -> tuple[str, ...]:
        return (
            "theory ignores the rejoin time and the pacing overhead that the calibration "
            "measures; catch-up = from the peak until the lag is under 20% of the peak.",
        )

"""The loss twin: a subscriber and a consumer down for a fraction of the publish window.

The real half is :func:`labs.loss.run_loss`: events PUBLISHed to Redis and sent to Kafka at
``rate_per_s`` for ``window_s`` seconds; from ``down_from_s`` for ``down_for_s`` seconds the
subscriber's connection is closed and the Kafka consumer has left its group. The simulator
half is the same experiment as a scenario: a ``subscriber_down`` and a ``consumer_leave``
fault over the same interval, the same arrival times and keys, and the timing measured by
the calibration (Pub/Sub and Kafka latency, reconnect and rejoin time, the consumer's
effective processing time).

Theory: the subscriber loses the share of the window it was away, ``f = down_for_s /
window_s``; Kafka loses nothing.

>>> LossTwin(down_for_s=2.0).theory()["loss_fraction"]
0.5
>>> LossTwin(down_from_s=3.8)
Traceback (most recent call last):
...
ValueError: "down_from_s" must be in [0.2, 3.5] s (at most window_s - 0.5), got 3.8.
"""

from __future__ import annotations

import numpy as np

from labs.experiments.loss import HEADROOM, LOSS
from labs.twins.calibrate import Calibration
from labs.twins.common import same_keys
from labs.twins.core import Twin
from labs.twins.result import Row
from labs.twins.send_limit import BeyondThisMachine
from sim.analysis.result import Result

#: Tolerances of the acceptance criteria.
LOSS_TOLERANCE = 0.03  # |real - simulator| of the Pub/Sub loss fraction
LOSS_THEORY_TOLERANCE = 0.05  # |each - f|


class OutageParams(Twin):
    """What the loss and lag twins share: :func:`labs.loss.run_loss` and its scenario."""

    EXPERIMENT = LOSS
    PACED_CONSUMER = True  # the lab's Kafka consumer is paced at service_rate_per_s
    SENDS = "redis+kafka"  # PUBLISH and send() of each message, from one thread

    def check_calibration(self, cal: Calibration) -> None:
        """The paced consumer must really outpace the publisher here, or it never catches
        up: its rate as calibrated (under a load of ``rate_per_s``) against ``rate_per_s``."""
        need = HEADROOM * self.rate_per_s
        if cal.effective_rate_per_s < need:
            raise BeyondThisMachine(
                f'"service_rate_per_s" = {self.service_rate_per_s:g} msg/s: the lab\'s consumer '
                f"processed only {cal.effective_rate_per_s:.0f} records/s on this machine "
                f"(measured by the calibration at {cal.measured_at}, while "
                f"{self.rate_per_s:g} msg/s were sent), less than {HEADROOM:g} x rate_per_s = "
                f"{need:g}; it would not catch up. Choose rate_per_s <= "
                f"{int(cal.effective_rate_per_s / HEADROOM)}."
            )

    def theory(self) -> dict[str, float]:
        lam, mu = self.rate_per_s, self.service_rate_per_s
        backlog = lam * self.down_for_s
        return {
            "loss_fraction": self.down_for_s / self.window_s,
            "kafka_lost": 0.0,
            "peak_lag": backlog,
            "catch_up_s": backlog / (mu - lam),
        }

    def measured_in_run(self, cal: Calibration, real: Result) -> Calibration:
        """What the real run itself measured of its two outages.

        - The subscriber's: when its connection really closed, when the new SUBSCRIBE went
          out and when it was confirmed (the lab records them). A thread that wakes late on
          a busy machine -- stalls of 100-200 ms happen on a shared 2-core machine -- moves
          the real outage, and the publisher's sends near its ends with it.
        - The Kafka consumer's rejoin: from the end of its outage to its first record
          processed, less the one service time the lab sleeps before it records a record
          (the calibration's rejoin is measured the same way, before that sleep). On a
          shared machine one group join can take three times another.
        """
        m = real.metrics
        if "closed_at_s:subscriber:0" in m:
            closed, subscribing = m["closed_at_s:subscriber:0"], m["subscribing_at_s:subscriber:0"]
            cal = cal.with_run_outage(
                closed,
                subscribing - closed,
                1000.0 * (m["down_s:subscriber:0"] - (subscribing - closed)),
            )
        end = self.down_from_s + self.down_for_s
        times = np.asarray(real.history.reader("group:0").times, float)
        after = times[times >= end]
        if after.size == 0:
            return cal
        rejoin_s = float(after.min()) - end - 1.0 / self.service_rate_per_s
        return cal.with_run_rejoin(1000.0 * max(rejoin_s, 0.0))

    def run_notes(self, real: Result) -> tuple[str, ...]:
        m = real.metrics
        if "closed_at_s:subscriber:0" not in m:
            return ()
        closed, back = (
            m["closed_at_s:subscriber:0"],
            m["closed_at_s:subscriber:0"] + m["down_s:subscriber:0"],
        )
        return (
            f"the lab's subscriber was really away from {closed:.3f} s to {back:.3f} s (connection "
            f"closed -> new SUBSCRIBE confirmed; planned {self.down_from_s:g} s to "
            f"{self.down_from_s + self.down_for_s:g} s); the simulator's subscriber was away "
            "over the same interval.",
        )

    def workload_rows(self, real: Result, sim: Result) -> list[Row]:
        planned = self.workload()
        n = float(len(planned))
        same = float(same_keys(real.history, planned.keys) and same_keys(sim.history, planned.keys))
        return [
            Row("messages sent", n, float(sim.history.messages), float(real.history.messages)),
            Row("same key sequence (1 = yes)", 1.0, 1.0, same),
        ]


class LossTwin(OutageParams):
    """Pub/Sub loses the share of the window the subscriber was away; Kafka loses nothing.

    Parameters and ranges: :data:`labs.experiments.loss.LOSS_TWIN`.
    """

    name = "loss"
    summary = "subscriber and consumer down for a share f of the window: Pub/Sub loses ~f"

    def compare(self, real: Result, sim: Result, cal: Calibration) -> list[Row]:
        th = self.theory()
        rs, ss = real.report["subscriber:0"], sim.report["subscriber:0"]
        rg, sg = real.report["group:0"], sim.report["group:0"]
        return [
            *self.workload_rows(real, sim),
            Row(
                "Pub/Sub loss fraction",
                th["loss_fraction"],
                ss.loss_fraction,
                rs.loss_fraction,
                tolerance=LOSS_TOLERANCE,
                theory_tolerance=LOSS_THEORY_TOLERANCE,
            ),
            Row(
                "Pub/Sub lost",
                th["loss_fraction"] * sim.history.messages,
                float(ss.lost),
                float(rs.lost),
                tolerance=None,
            ),
            Row("Kafka lost", th["kafka_lost"], float(sg.lost), float(rg.lost), tolerance=0),
        ]

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
ValueError: "down_from_s" must be in [0.2, 3.5], got 3.8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from labs.loss import run_loss
from labs.params import check_choice
from labs.twins.calibrate import Calibration
from labs.twins.common import message_sequence, same_keys
from labs.twins.core import Twin
from labs.twins.result import Row
from labs.workload import ARRIVALS, arrival_times, keys, rngs
from sim.analysis.result import Result
from sim.core.distributions import Service
from sim.core.faults import Fault
from sim.core.scenario import Consumers, Scenario, Topology
from sim.core.workload import Messages, Workload
from sim.models.groups import Group
from sim.models.log import Log
from sim.models.pubsub import PubSub, Subscriber

#: Tolerances of the acceptance criteria.
LOSS_TOLERANCE = 0.03  # |real - simulator| of the Pub/Sub loss fraction
LOSS_THEORY_TOLERANCE = 0.05  # |each - f|


@dataclass(frozen=True)
class OutageParams(Twin):
    """The parameters of :func:`labs.loss.run_loss`, shared by the loss and lag twins."""

    rate_per_s: float = 200.0
    window_s: float = 4.0
    down_from_s: float = 1.0
    down_for_s: float = 1.5
    service_rate_per_s: float = 400.0
    partitions: int = 1
    num_keys: int = 10
    arrivals: str = "constant"
    seed: int = 0

    RANGES = {
        "rate_per_s": (20, 500),
        "window_s": (2, 8),
        "partitions": (1, 8),
        "num_keys": (1, 10000),
    }

    PACED_CONSUMER = True  # the lab's Kafka consumer sleeps 1/service_rate per record

    def __post_init__(self) -> None:
        check_choice("arrivals", self.arrivals, ARRIVALS)
        self.check()

    def ranges(self) -> dict[str, tuple[float, float]]:
        r = dict(self.RANGES)
        r["down_from_s"] = (0.2, max(0.2, self.window_s - 0.5))
        r["down_for_s"] = (0.5, max(0.5, self.window_s - self.down_from_s - 0.2))
        r["service_rate_per_s"] = (1.5 * self.rate_per_s, 2000)
        return r

    def run_lab(self) -> Result:
        return run_loss(
            rate_per_s=self.rate_per_s,
            window_s=self.window_s,
            down_from_s=self.down_from_s,
            down_for_s=self.down_for_s,
            service_rate_per_s=self.service_rate_per_s,
            partitions=self.partitions,
            num_keys=self.num_keys,
            arrivals=self.arrivals,
            seed=self.seed,
        )

    def workload(self) -> Messages:
        """The lab's workload for this seed (as :func:`labs.loss.run_loss` draws it)."""
        arrival_rng, key_rng = rngs(self.seed, 2)
        t = arrival_times(self.rate_per_s, self.window_s, arrivals=self.arrivals, rng=arrival_rng)
        return message_sequence(t, keys(t.size, self.num_keys, rng=key_rng))

    def scenario(self, cal: Calibration) -> Scenario:
        """Subscriber down and consumer away over the same interval, calibrated timing."""
        service_ms = cal.service_ms(self.service_rate_per_s)
        mu = 1000.0 / service_ms
        backlog = self.rate_per_s * (self.down_for_s + cal.rejoin_ms / 1000.0)
        drain = backlog / max(mu - self.rate_per_s, 1.0) + self.rate_per_s * self.window_s / mu
        return Scenario(
            name=f"{self.name} twin",
            workload=Workload(
                rate_per_s=self.rate_per_s,
                duration_s=self.window_s,
                arrivals=self.arrivals,
                keys=self.num_keys,
            ),
            topology=Topology(
                pubsub=PubSub(network_delay_ms=cal.pubsub_latency_ms),
                log=Log(partitions=self.partitions, network_delay_ms=cal.kafka_latency_ms),
            ),
            consumers=Consumers(
                subscribers=(
                    Subscriber(
                        service=Service("constant", 0.0), reconnect_delay_ms=cal.resubscribe_ms
                    ),
                ),
                groups=(
                    Group(
                        commit="after",
                        service=Service("constant", service_ms),
                        rebalance_ms=cal.rejoin_ms,
                        session_timeout_ms=6000.0,
                        auto_offset_reset="earliest",
                    ),
                ),
            ),
            faults=(
                Fault("subscriber_down", "subscriber:0", self.down_from_s, self.down_for_s),
                Fault("consumer_leave", "group:0:0", self.down_from_s, self.down_for_s),
            ),
            drain_s=math.ceil(drain + 3.0),
            lag_points=200,
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

    def workload_rows(self, real: Result, sim: Result) -> list[Row]:
        planned = self.workload()
        n = float(len(planned))
        same = float(same_keys(real.history, planned.keys) and same_keys(sim.history, planned.keys))
        return [
            Row("messages sent", n, float(sim.history.messages), float(real.history.messages)),
            Row("same key sequence (1 = yes)", 1.0, 1.0, same),
        ]


@dataclass(frozen=True)
class LossTwin(OutageParams):
    """Pub/Sub loses the share of the window the subscriber was away; Kafka loses nothing.

    Ranges: ``rate_per_s`` 20..500, ``window_s`` 2..8, ``down_from_s`` 0.2..window-0.5,
    ``down_for_s`` 0.5..window-down_from-0.2, ``service_rate_per_s`` 1.5*rate..2000,
    ``partitions`` 1..8, ``num_keys`` 1..10000, ``arrivals`` constant | poisson, ``seed`` >= 0.
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

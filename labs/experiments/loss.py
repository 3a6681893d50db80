"""The loss experiment: Pub/Sub loses what a disconnected subscriber missed; Kafka keeps it.

Declared once here: the lab's parameters (:data:`PARAMS`), the parameter sets of its two
twins (:data:`LOSS_TWIN`, :data:`LAG_TWIN`: narrower ranges where the comparison with the
simulator holds), the workload both halves publish (:func:`workload`) and the simulator's
model (:func:`scenario`). Lab: :func:`labs.loss.run_loss`; lesson: ``02_loss``.

Theory: a subscriber away for ``down_for_s`` of a ``window_s`` window loses the share
``down_for_s / window_s``; Kafka loses nothing and its lag peaks near ``rate x downtime``.
"""

from __future__ import annotations

import math

from labs.experiments.base import Experiment, Timing
from labs.params import Bound, Param, Params
from sim import Group, Log, PubSub, Subscriber
from sim.core.distributions import Service
from sim.core.scenario import Consumers, Fault, Scenario, Topology, Workload

#: The lab's consumer must outpace the publisher by this factor to catch up in the window.
HEADROOM = 1.1

#: At most this many messages in one run (``rate_per_s x window_s``): a run keeps every
#: send's record and Kafka future in memory, about a kilobyte each.
MAX_MESSAGES = 200_000
_AT_MOST_MESSAGES = Bound(
    "window_s",
    f"at most {MAX_MESSAGES:,} messages (rate_per_s x window_s) in one run",
    high=lambda v: MAX_MESSAGES / v["rate_per_s"],
)

PARAMS = Params(
    (
        Param(
            "rate_per_s", 200.0, "messages published per second", 1, 10000, step=10, unit="msg/s"
        ),
        Param("window_s", 4.0, "seconds of publishing", 0.5, 30, step=0.5, unit="s"),
        Param("down_from_s", 1.0, "when the readers go down", 0, 30, step=0.25, unit="s"),
        Param("down_for_s", 1.5, "how long they stay down", 0.05, 30, step=0.25, unit="s"),
        Param(
            "service_rate_per_s",
            400.0,
            "messages the Kafka consumer processes per second",
            10,
            20000,
            step=10,
            unit="msg/s",
        ),
        Param("partitions", 1, "partitions of the topic", 1, 32),
        Param("num_keys", 10, "number of distinct keys", 1, 100000),
        Param("arrivals", "constant", "arrival process", choices=("constant", "poisson")),
    ),
    (
        _AT_MOST_MESSAGES,
        Bound("down_from_s", "the outage starts inside the window", high=lambda v: v["window_s"]),
        Bound(
            "down_for_s",
            "the outage ends inside the window",
            high=lambda v: v["window_s"] - v["down_from_s"],
        ),
        Bound(
            "service_rate_per_s",
            f"at least {HEADROOM:g} x rate_per_s, so the consumer catches up",
            low=lambda v: HEADROOM * v["rate_per_s"],
        ),
    ),
)

_TWIN_OUTAGE = (
    _AT_MOST_MESSAGES,
    Bound(
        "down_from_s",
        "at most window_s - 0.5",
        high=lambda v: max(0.2, v["window_s"] - 0.5),
    ),
)

#: The loss twin: the lab's ranges, the outage inside the window with some margin. A rate
#: the lab's client cannot send (or consume) on this machine is refused by the twin with
#: the measured limit (:mod:`labs.twins.send_limit`), not by a fixed range.
LOSS_TWIN = PARAMS.narrow(
    rate_per_s={"low": 20},
    window_s={"low": 2},
    down_from_s={"low": 0.2, "high": 29.5},
    down_for_s={"low": 0.5, "high": 29.6},
    service_rate_per_s={"low": 30},
    partitions={"high": 8},
    num_keys={"high": 10000},
    bounds=(
        *_TWIN_OUTAGE,
        Bound(
            "down_for_s",
            "ends at least 0.2 s before the window does",
            high=lambda v: max(0.5, v["window_s"] - v["down_from_s"] - 0.2),
        ),
        Bound(
            "service_rate_per_s",
            "at least 1.5 x rate_per_s",
            low=lambda v: 1.5 * v["rate_per_s"],
        ),
    ),
)

#: Smallest backlog (``rate_per_s * down_for_s``) the lag twin accepts: with fewer
#: messages one message more or less is already a large share of the peak.
MIN_BACKLOG = 30
#: Shortest catch-up (``backlog / (mu - lambda)``, s) the lag twin accepts: a real
#: consumer's rejoin and first fetches add tens of ms a shorter catch-up cannot absorb.
MIN_CATCH_UP_S = 0.5

#: The lag twin: a consumer at least twice as fast as the publisher (see
#: :class:`labs.twins.lag.LagTwin` for why).
LAG_TWIN = PARAMS.narrow(
    rate_per_s={"low": 5, "default": 15.0},
    window_s={"low": 2, "default": 5.0},
    down_from_s={"low": 0.2, "high": 29.5},
    down_for_s={"low": 0.5, "high": 29.6, "default": 2.5},
    service_rate_per_s={"low": 20, "default": 60.0},
    partitions={"high": 8},
    num_keys={"high": 10000},
    bounds=(
        *_TWIN_OUTAGE,
        Bound(
            "rate_per_s",
            "at most service_rate_per_s / 2",
            high=lambda v: max(5, v["service_rate_per_s"] / 2),
        ),
        Bound(
            "down_for_s",
            f"a backlog of at least {MIN_BACKLOG} messages and {MIN_CATCH_UP_S} s of catch-up, "
            "ending 0.2 s before the window",
            low=lambda v: max(
                0.5,
                MIN_BACKLOG / v["rate_per_s"],
                MIN_CATCH_UP_S * (v["service_rate_per_s"] - v["rate_per_s"]) / v["rate_per_s"],
            ),
            high=lambda v: max(0.5, v["window_s"] - v["down_from_s"] - 0.2),
        ),
    ),
)


def workload(*, rate_per_s: float, window_s: float, num_keys: int, arrivals: str, **_) -> Workload:
    """What the lab publishes (and the simulator, from the same seed)."""
    return Workload(rate_per_s=rate_per_s, duration_s=window_s, arrivals=arrivals, keys=num_keys)


def scenario(*, timing: Timing, **v) -> Scenario:
    """A subscriber down and a Kafka consumer out of its group over the same interval."""
    rate, window = v["rate_per_s"], v["window_s"]
    service_ms = timing.service_ms or 1000.0 / v["service_rate_per_s"]
    mu = 1000.0 / service_ms
    backlog = rate * (v["down_for_s"] + timing.rejoin_ms / 1000.0)
    drain = backlog / max(mu - rate, 1.0) + rate * window / mu
    down = (v["down_from_s"], v["down_for_s"])
    return Scenario(
        name="loss",
        workload=workload(**v),
        topology=Topology(
            pubsub=PubSub(network_delay_ms=timing.pubsub_latency_ms),
            log=Log(partitions=v["partitions"], network_delay_ms=timing.kafka_latency_ms),
        ),
        consumers=Consumers(
            subscribers=(
                Subscriber(
                    service=Service("constant", 0.0), reconnect_delay_ms=timing.resubscribe_ms
                ),
            ),
            groups=(
                Group(
                    commit="after",
                    service=Service("constant", service_ms),
                    rebalance_ms=timing.rejoin_ms,
                    session_timeout_ms=6000.0,
                    auto_offset_reset="earliest",
                ),
            ),
        ),
        faults=(
            Fault("subscriber_down", "subscriber:0", *(timing.subscriber_down or down)),
            Fault("consumer_leave", "group:0:0", *down),
        ),
        drain_s=math.ceil(drain + 3.0),
        lag_points=200,
    )


LOSS = Experiment(
    name="loss",
    summary="Pub/Sub loses what a disconnected subscriber missed; Kafka keeps it as lag",
    params=PARAMS,
    lab="labs.loss:run_loss",
    lesson="02_loss",
    theory="loss fraction = down_for_s / window_s; Kafka loses 0; peak lag ~ rate x downtime",
    scenario=scenario,
    twins={
        "loss": ("labs.twins.loss:LossTwin", LOSS_TWIN),
        "lag": ("labs.twins.lag:LagTwin", LAG_TWIN),
    },
)

"""The reconnect experiment: gaps a Pub/Sub subscriber detects and repairs from a Stream,
and stale reads of a client-side cache that keeps its entries across a reconnect.

Declared once here: the lab's parameters (:data:`PARAMS`), the workload of its Pub/Sub part
(:func:`workload`), the cache part's model (:func:`cache_scenario`, for
:mod:`sim.models.client_cache`), the simulator scenario of the Pub/Sub part
(:func:`scenario`: the subscriber's outage, its gaps repaired from a stream) and the twin's
parameters (:data:`CACHE_TWIN`). Lab: :func:`labs.reconnect.run_reconnect`; lesson:
``14_reconnects``.

Theory: the subscriber misses what was published while it was away (``rate x down_for_s``)
and sees one gap when the next message arrives; a stream holding at least that many
entries repairs all of it. A cache that is not flushed on reconnect serves
:func:`sim.models.client_cache.expected_stale_reads` stale reads; flushed, none.
"""

from __future__ import annotations

from labs.experiments.base import Experiment, Timing
from labs.params import Bound, Param, Params
from sim import PubSub, Subscriber
from sim.core.distributions import Service
from sim.core.scenario import Consumers, Fault, Scenario, Topology, Workload
from sim.models.client_cache import CacheScenario

#: The subscriber needs this long after its reconnect to receive a message revealing the gap.
AFTER_RECONNECT_S = 0.2

PARAMS = Params(
    (
        Param("rate_per_s", 200.0, "messages published per second", 10, 2000, step=10,
              unit="msg/s"),
        Param("window_s", 2.0, "seconds of publishing", 0.5, 10, step=0.25, unit="s"),
        Param("down_from_s", 0.5, "when the subscriber's connection closes", 0.1, 9.5,
              step=0.05, unit="s"),
        Param("down_for_s", 0.5, "how long the subscriber stays away", 0.05, 9, step=0.05,
              unit="s"),
        Param("stream_maxlen", 0, "XADD MAXLEN of the repair stream (0 = no trimming)", 0,
              100000),
        Param("num_keys", 10, "number of distinct keys of the Pub/Sub messages", 1, 1000),
        Param("cache_keys", 100, "keys the cache holds", 1, 10000),
        Param("updates_per_s", 50.0, "updates per second by another client", 0, 1000, step=5,
              unit="upd/s"),
        Param("cache_down_s", 1.0, "how long the caching client is disconnected", 0.1, 10,
              step=0.1, unit="s"),
        Param("reads_per_s", 100.0, "cache reads per second after the reconnect", 0, 2000,
              step=10, unit="reads/s"),
        Param("read_for_s", 2.0, "seconds of reads after the reconnect", 0.1, 10, step=0.1,
              unit="s"),
        Param("tracking", "default", "CLIENT TRACKING mode of the caches",
              choices=("default", "bcast")),
    ),
    (
        Bound("down_for_s", f"ends at least {AFTER_RECONNECT_S:g} s before the window does",
              high=lambda v: v["window_s"] - v["down_from_s"] - AFTER_RECONNECT_S),
        Bound("down_from_s", "at most window_s - 0.25",
              high=lambda v: v["window_s"] - 0.25),
    ),
)  # fmt: skip

#: The cache-staleness twin: the cache part's parameters.
CACHE_TWIN = PARAMS.select(
    "cache_keys", "updates_per_s", "cache_down_s", "reads_per_s", "read_for_s", "tracking"
)


def workload(*, rate_per_s, window_s, num_keys, **_) -> Workload:
    """The numbered messages of the Pub/Sub part (a constant rate)."""
    return Workload(
        rate_per_s=rate_per_s,
        messages=max(2, round(rate_per_s * window_s)),
        arrivals="constant",
        keys=num_keys,
    )


def cache_scenario(**values) -> CacheScenario:
    """The cache part as the simulator's :class:`~sim.models.client_cache.CacheScenario`."""
    return CacheScenario.from_lab(**values)


def scenario(*, timing: Timing, **v) -> Scenario:
    """One subscriber away from ``down_from_s`` for ``down_for_s``, repairing its gaps from
    a stream of ``stream_maxlen`` entries (0: untrimmed)."""
    down_from, down_for = timing.subscriber_down or (v["down_from_s"], v["down_for_s"])
    return Scenario(
        name="reconnect",
        workload=workload(**v),
        topology=Topology(pubsub=PubSub(network_delay_ms=timing.pubsub_latency_ms)),
        consumers=Consumers(
            subscribers=(
                Subscriber(
                    service=Service("constant", 0.01),
                    reconnect_delay_ms=timing.resubscribe_ms,
                    repair_maxlen=v["stream_maxlen"],
                ),
            )
        ),
        faults=(Fault("subscriber_down", "subscriber:0", down_from, down_for),),
        drain_s=1.0,
    )


RECONNECT = Experiment(
    name="reconnect",
    summary="Pub/Sub gaps detected by sequence number and repaired from a Stream; "
    "client-side cache staleness after a reconnect",
    params=PARAMS,
    lab="labs.reconnect:run_reconnect",
    lesson="14_reconnects",
    theory="missed = rate x outage, all repaired from the stream; stale reads only without "
    "the flush on reconnect",
    scenario=scenario,
    twins={"cache_staleness": ("labs.twins.cache_staleness:CacheStalenessTwin", CACHE_TWIN)},
)

"""This machine's baseline: how long one event takes from send to read, through each broker.

Lesson 0 measures it before the course compares the systems: ``count`` events, each sent
only after the previous one was read back, through Redis Pub/Sub (``PUBLISH`` to a channel
one connection ``SUBSCRIBE``\\ s to) and through Kafka (``send(...).get()``, acknowledged by
the broker, then ``poll()`` by a consumer assigned to the one-partition topic). One event of
each is sent first and not counted: the first Kafka send also fetches the topic's metadata.

The times are wall-clock end to end in one process (no clock offset between sender and
reader). They vary from run to run and machine to machine; what they show is the order of
magnitude between an in-memory fan-out and an acknowledged append to a replicated log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from labs.clients import WaitTimeout, subscribe
from labs.naming import scratch
from sim.analysis import style

#: Seconds one event may take through a broker before the run fails.
EVENT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Latencies:
    """Milliseconds from send to read of each event, per broker, in sending order."""

    redis_ms: tuple[float, ...]
    kafka_ms: tuple[float, ...]

    def medians(self) -> dict[str, float]:
        return {
            "Redis Pub/Sub": float(np.median(self.redis_ms)),
            "Kafka": float(np.median(self.kafka_ms)),
        }


def latencies(count: int = 30) -> Latencies:
    """Send ``count`` events one at a time through each broker; see the module docstring."""
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 1000:
        raise ValueError(f'"count" must be an integer in 1..1000, got {count!r}.')
    with scratch("baseline") as s:
        redis_ms = _redis(s, count)
        kafka_ms = _kafka(s, count)
    return Latencies(tuple(redis_ms), tuple(kafka_ms))


def _redis(s, count: int) -> list[float]:
    channel = s.redis_name("events")
    pubsub = s.track(subscribe(s.redis, channel))
    times = []
    for i in range(count + 1):
        t0 = time.perf_counter()
        s.redis.publish(channel, str(i))
        while True:
            msg = pubsub.get_message(timeout=EVENT_TIMEOUT_S)
            if msg is None:
                raise WaitTimeout(f"event {i} did not arrive on Redis channel {channel}")
            if msg["type"] == "message" and msg["data"] == str(i).encode():
                break
        times.append((time.perf_counter() - t0) * 1000)
    return times[1:]  # the first one is the warm-up


def _kafka(s, count: int) -> list[float]:
    from kafka import TopicPartition

    topic = s.topic("events")
    producer = s.producer(linger_ms=0)
    consumer = s.consumer(fetch_max_wait_ms=500)
    consumer.assign([TopicPartition(topic, 0)])
    times = []
    for i in range(count + 1):
        t0 = time.perf_counter()
        producer.send(topic, value=str(i).encode()).get(timeout=EVENT_TIMEOUT_S)
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        got = False
        while not got:
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"event {i} was not read back from Kafka topic {topic}")
            for records in consumer.poll(timeout_ms=100).values():
                got = got or any(r.value == str(i).encode() for r in records)
        times.append((time.perf_counter() - t0) * 1000)
    return times[1:]


def plot_latencies(result: Latencies) -> Figure:
    """Each event's time through each broker (dots), with the median (bar), log scale."""
    fig, axes = style.figure("baseline", (7.0, 3.4))
    ax = axes[0, 0]
    rng = np.random.default_rng(0)  # horizontal jitter only, so dots do not hide each other
    medians = result.medians()
    colors = style.series_colors(2)
    for x, ((name, values), color) in enumerate(
        zip((("Redis Pub/Sub", result.redis_ms), ("Kafka", result.kafka_ms)), colors, strict=True)
    ):
        ax.scatter(x + rng.uniform(-0.15, 0.15, len(values)), values, s=12, color=color, alpha=0.7)
        ax.hlines(medians[name], x - 0.3, x + 0.3, color="black", linewidth=2)
    ax.set_xticks(
        [0, 1], ["Redis Pub/Sub\n(PUBLISH -> subscriber)", "Kafka\n(send().get() -> poll)"]
    )
    ax.set_yscale("log")
    ax.set_ylabel("send to read (ms)")
    ax.set_xlabel("broker (each dot: one event; bar: median)")
    ax.set_title(
        f"Median send to read on this machine: Redis Pub/Sub {medians['Redis Pub/Sub']:.2g} ms,"
        f"\nKafka {medians['Kafka']:.2g} ms ({len(result.kafka_ms)} events each)"
    )
    return fig

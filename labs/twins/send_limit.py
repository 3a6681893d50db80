"""How fast the lab's own client can send on this machine, measured -- not a fixed range.

A twin's real half sends on a schedule (``rate_per_s``) from one Python thread while its
readers run in other threads of the same process. How fast that thread can go depends on
the machine and on its load right now: a round trip to Redis per PUBLISH, kafka-python's
``send()`` and the readers' share of the interpreter. :func:`send_limit` measures it with a
short burst of exactly the lab's send loop (:func:`labs.sending.due_batches`: Redis PUBLISH
pipelines and Kafka ``send()``, or Kafka only) with every message already due, so it goes
as fast as the thread can, while a subscriber reads the channel and a consumer polls the
topic -- and keeps the result for :data:`CACHE_S` seconds.

A twin asked for a rate above the measured limit does not run a lab that would fall behind
its own schedule (and compare a different experiment): :func:`check_rate` raises
:class:`BeyondThisMachine`, a ``ValueError`` that names the parameter, the requested rate
and the measured limit.

>>> limit = SendLimit("Kafka send()", 4000.0, 4000, 1.0, "fixed for the example")
>>> check_rate(3000.0, limit)
>>> check_rate(9000.0, limit)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
labs.twins.send_limit.BeyondThisMachine: "rate_per_s" = 9000 msg/s is more than ... limit 4000 ...
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from labs.clients import redis_client, subscribe
from labs.naming import scratch
from labs.params import check_choice
from labs.recording import Clock
from labs.sending import due_batches, publish_batch
from labs.workload import payload

#: A measurement is reused for this long (s): the load of a shared machine changes slowly
#: next to a lesson, and a burst costs a second or two.
CACHE_S = 600.0
#: Messages in one burst, per kind: about half a second of sending at the limit.
BURST = {"redis+kafka": 3000, "kafka": 5000}
KINDS = {"redis+kafka": "Redis PUBLISH pipelines + Kafka send()", "kafka": "Kafka send()"}

_cache: dict[str, tuple[float, SendLimit]] = {}
_lock = threading.Lock()


class BeyondThisMachine(ValueError):
    """A requested rate above what the lab's client can send here (message: the measured
    limit)."""


@dataclass(frozen=True)
class SendLimit:
    """The fastest rate one lab thread sent at in a burst: ``messages`` in ``duration_s``."""

    what: str
    rate_per_s: float
    messages: int
    duration_s: float
    measured_at: str


def check_rate(rate_per_s: float, limit: SendLimit, *, param: str = "rate_per_s") -> None:
    """Raise :class:`BeyondThisMachine` if ``rate_per_s`` exceeds ``limit``."""
    if rate_per_s > limit.rate_per_s:
        raise BeyondThisMachine(
            f'"{param}" = {rate_per_s:g} msg/s is more than the lab\'s client can send on this '
            f"machine: measured limit {limit.rate_per_s:.0f} msg/s ({limit.what}, a burst of "
            f"{limit.messages} messages in {limit.duration_s:.2f} s, {limit.measured_at}). "
            f"Choose {param} <= {int(limit.rate_per_s)}."
        )


def send_limit(kind: str = "redis+kafka", *, fresh: bool = False) -> SendLimit:
    """The measured send limit for ``kind`` (``"redis+kafka"`` or ``"kafka"``), from the
    cache when it is younger than :data:`CACHE_S` (unless ``fresh``)."""
    check_choice("kind", kind, tuple(KINDS))
    with _lock:
        hit = _cache.get(kind)
        if hit is not None and not fresh and time.monotonic() - hit[0] < CACHE_S:
            return hit[1]
        limit = _measure(kind, BURST[kind])
        _cache[kind] = (time.monotonic(), limit)
        return limit


def _measure(kind: str, n: int) -> SendLimit:
    """One burst of ``n`` sends of the lab's kind, readers running (see the docstring)."""
    with_redis = kind == "redis+kafka"
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    with scratch("sendlimit", redis_needed=with_redis) as s:
        topic = s.topic("burst")
        channel = s.redis_name("burst") if with_redis else ""
        producer = s.producer(acks="all", enable_idempotence=True, linger_ms=5)
        consumer = s.consumer(topic, group_id=s.group("burst"))
        stop = threading.Event()
        readers = [threading.Thread(target=_poll, args=(consumer, stop), daemon=True)]
        if with_redis:
            readers.append(threading.Thread(target=_read, args=(channel, stop), daemon=True))
        for th in readers:
            th.start()
        try:
            time.sleep(0.2)  # the readers are connected and waiting, as in a lab
            clock = Clock()
            for start, stop_at, _ in due_batches(np.zeros(n), clock):  # all due at once
                if with_redis:
                    publish_batch(s.redis, channel, range(start, stop_at))
                for i in range(start, stop_at):
                    producer.send(topic, value=payload(i))
            elapsed = clock.now()
            producer.flush(timeout=10)
        finally:
            stop.set()
            for th in readers:
                th.join(5)
            consumer.close(autocommit=False)
    return SendLimit(KINDS[kind], n / elapsed, n, elapsed, f"measured at {stamp}")


def _poll(consumer, stop: threading.Event) -> None:
    while not stop.is_set():
        consumer.poll(timeout_ms=20)


def _read(channel: str, stop: threading.Event) -> None:
    client = redis_client()
    pubsub = subscribe(client, channel)
    while not stop.is_set():
        pubsub.get_message(timeout=0.02)
    pubsub.close()
    client.close()

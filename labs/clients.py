"""Clients for the course's real brokers, with a timeout on every network call.

A lab never hangs in front of a room: every Redis call has a socket and a connect timeout,
every Kafka client has request, bootstrap and blocking timeouts, and
:func:`require_brokers` checks that both brokers answer before a lab starts, failing within
a few seconds with :class:`BrokerUnavailable` -- a one-line message that says what could
not be reached and how to start the brokers.

Where the brokers are comes from :func:`labs.stack.endpoints` (``REDIS_URL`` and
``KAFKA_BOOTSTRAP_SERVERS`` override the course's own ports).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, OffsetAndMetadata
from kafka.errors import KafkaError

from labs.stack import endpoints

#: What to run when a broker cannot be reached.
START_HINT = "start the brokers with: python -m labs.stack up"

#: Seconds a reachability check may take per broker.
CONNECT_TIMEOUT_S = 2.0
#: Seconds any single Redis command may take.
REDIS_SOCKET_TIMEOUT_S = 5.0
#: Milliseconds any single Kafka request may take.
KAFKA_REQUEST_TIMEOUT_MS = 5000
#: Milliseconds a Kafka client may spend finding the cluster when it is created.
KAFKA_BOOTSTRAP_TIMEOUT_MS = 4000

T = TypeVar("T")


class BrokerUnavailable(RuntimeError):
    """A broker the lab needs cannot be reached. The message is one line, with the fix."""


class WaitTimeout(TimeoutError):
    """Something a lab waited for did not happen before its deadline."""


def redis_client(*, socket_timeout: float = REDIS_SOCKET_TIMEOUT_S, **kwargs: Any) -> redis.Redis:
    """A Redis client (RESP2, bytes replies) with connect and socket timeouts."""
    kwargs.setdefault("socket_connect_timeout", CONNECT_TIMEOUT_S)
    kwargs.setdefault("protocol", 2)
    return redis.Redis.from_url(endpoints().redis_url, socket_timeout=socket_timeout, **kwargs)


def _kafka_common() -> dict[str, Any]:
    return {
        "bootstrap_servers": endpoints().kafka_bootstrap_servers,
        "request_timeout_ms": KAFKA_REQUEST_TIMEOUT_MS,
        "bootstrap_timeout_ms": KAFKA_BOOTSTRAP_TIMEOUT_MS,
        "reconnect_backoff_max_ms": 1000,
    }


def kafka_admin(**overrides: Any) -> KafkaAdminClient:
    """A Kafka admin client with request and bootstrap timeouts."""
    return _kafka_call(
        "Kafka admin client", lambda: KafkaAdminClient(**_kafka_common(), **overrides)
    )


def kafka_producer(**overrides: Any) -> KafkaProducer:
    """A Kafka producer: kafka-python 3 defaults (``acks='all'``, idempotent) unless overridden.

    ``max_block_ms`` bounds ``send()`` when metadata or buffer space is missing and
    ``delivery_timeout_ms`` bounds how long a send may stay unacknowledged.
    """
    config = {**_kafka_common(), "max_block_ms": 5000, "delivery_timeout_ms": 10000, "linger_ms": 0}
    config.update(overrides)
    return _kafka_call("Kafka producer", lambda: KafkaProducer(**config))


def kafka_consumer(*topics: str, **overrides: Any) -> KafkaConsumer:
    """A Kafka consumer with manual commits and short group timeouts.

    ``session_timeout_ms`` is the broker's minimum (6 s) so a lost member is noticed soon;
    heartbeats every 500 ms so rebalances start quickly.
    """
    config = {
        **_kafka_common(),
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 500,
        "max_poll_interval_ms": 30000,
        "fetch_max_wait_ms": 100,
        # kafka-python checks CRC32C in pure Python: ~3 MB/s. The broker validated them.
        "check_crcs": False,
    }
    config.update(overrides)
    consumer = _kafka_call("Kafka consumer", lambda: KafkaConsumer(**config))
    if topics:
        subscribe_known(consumer, topics)
    return consumer


def subscribe_known(consumer: KafkaConsumer, topics, listener=None, *, timeout_s: float = 5.0):
    """Subscribe, then make sure ``consumer`` has the topics' metadata before it joins.

    A group member that joins before it knows a topic's partitions is assigned none of
    them (kafka-python logs "No partition metadata for topic") and can wait a long time for
    the rebalance that fixes it. Fetching the metadata right after subscribing -- before
    the first ``poll()`` joins the group -- gives the first join the real partitions.
    """
    consumer.subscribe(list(topics), listener=listener)
    for topic in topics:
        wait_until(
            lambda t=topic: consumer.partitions_for_topic(t),
            timeout_s=timeout_s,
            what=f"metadata of topic {topic}",
            interval_s=0.05,
        )


def _kafka_call(what: str, make: Callable[[], T]) -> T:
    try:
        return make()
    except KafkaError as exc:
        raise BrokerUnavailable(
            f"{what}: Kafka at {endpoints().kafka_bootstrap_servers} is unreachable "
            f"({type(exc).__name__}); {START_HINT}"
        ) from exc


def _tcp_check(name: str, host: str, port: int, url: str) -> None:
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise BrokerUnavailable(
            f"{name} at {url} is unreachable ({exc.strerror or type(exc).__name__}); {START_HINT}"
        ) from exc


def require_brokers(*, redis_needed: bool = True, kafka_needed: bool = True) -> None:
    """Fail fast (a few seconds at most) unless the brokers a lab needs answer.

    Raises :class:`BrokerUnavailable` with a one-line message naming the broker and the
    command that starts them.
    """
    ep = endpoints()
    if redis_needed:
        _tcp_check("Redis", *ep.redis_host_port, ep.redis_url)
        try:
            client = redis_client(socket_timeout=CONNECT_TIMEOUT_S)
            client.ping()
            client.close()
        except redis.RedisError as exc:
            raise BrokerUnavailable(
                f"Redis at {ep.redis_url} does not answer PING ({type(exc).__name__}); {START_HINT}"
            ) from exc
    if kafka_needed:
        _tcp_check("Kafka", *ep.kafka_host_port, ep.kafka_bootstrap_servers)
        kafka_admin().close()


def wait_until(
    condition: Callable[[], T], *, timeout_s: float, what: str, interval_s: float = 0.02
) -> T:
    """Poll ``condition`` until it returns something truthy; return that value.

    Raises :class:`WaitTimeout` naming ``what`` was awaited if ``timeout_s`` passes first.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout_s:.1f} s waiting for {what}")
        time.sleep(interval_s)


def sleep_until(t_monotonic: float) -> None:
    """Sleep until the monotonic clock reads ``t_monotonic`` (no-op if already past)."""
    delay = t_monotonic - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def commit_offsets(consumer: KafkaConsumer, next_offsets: dict) -> None:
    """Commit ``{TopicPartition: next offset to read}`` synchronously (5 s timeout)."""
    if next_offsets:
        consumer.commit(
            {tp: OffsetAndMetadata(off, "", -1) for tp, off in next_offsets.items()},
            timeout_ms=KAFKA_REQUEST_TIMEOUT_MS,
        )


def poll_until_assigned(consumer: KafkaConsumer, *, timeout_s: float = 10.0) -> list:
    """Poll until the group gave ``consumer`` partitions; return the records polled meanwhile."""
    records: list = []
    deadline = time.monotonic() + timeout_s
    while not consumer.assignment():
        if time.monotonic() >= deadline:
            raise WaitTimeout(
                f"timed out after {timeout_s:.1f} s waiting for a partition assignment"
            )
        for batch in consumer.poll(timeout_ms=100).values():
            records.extend(batch)
    return records


def read_all(consumer: KafkaConsumer, end_offsets: dict, *, timeout_s: float = 10.0) -> list:
    """Poll an assigned consumer until its position reaches ``end_offsets``; return records."""
    records: list = []
    deadline = time.monotonic() + timeout_s
    while any(consumer.position(tp) < end for tp, end in end_offsets.items()):
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout_s:.1f} s reading up to {end_offsets}")
        for batch in consumer.poll(timeout_ms=100).values():
            records.extend(batch)
    return records


def subscribe(client: redis.Redis, channel: str, *, timeout_s: float = 5.0):
    """SUBSCRIBE on a new connection of ``client``; return the PubSub once Redis confirmed it.

    Read messages with ``get_message(timeout=...)`` and keep those of type ``"message"``.
    """
    pubsub = client.pubsub()
    pubsub.subscribe(channel)
    deadline = time.monotonic() + timeout_s
    while True:
        msg = pubsub.get_message(timeout=0.05)
        if msg is not None and msg["type"] == "subscribe":
            return pubsub
        if time.monotonic() >= deadline:
            pubsub.close()
            raise WaitTimeout(
                f"timed out after {timeout_s:.1f} s waiting for Redis to confirm "
                f"the subscription to {channel}"
            )

"""A first message through each broker: the stack's smoke test and notebook 0's demo.

:func:`roundtrip` publishes one message on a fresh Redis channel to a subscriber it opened,
and sends one record to a fresh one-partition Kafka topic and polls it back; then it
deletes the channel's subscriber and the topic. Every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass

from labs.stack import config
from labs.stack.prereqs import StackError


@dataclass(frozen=True)
class Roundtrip:
    """What came back: the Redis PUBLISH receiver count, and for each broker the payload
    received and the round-trip time in milliseconds."""

    redis_receivers: int
    redis_payload: str
    redis_ms: float
    kafka_partition: int
    kafka_offset: int
    kafka_payload: str
    kafka_ms: float


def _unavailable(broker: str, address: str, exc: BaseException) -> StackError:
    return StackError(
        f"{broker} is not reachable at {address} ({type(exc).__name__}); start the brokers "
        "with: python -m labs.stack up"
    )


def redis_roundtrip(payload: str, timeout_s: float = 5.0) -> tuple[int, str, float]:
    import redis

    url = config.endpoints().redis_url
    channel = f"{config.REDIS_PREFIX}smoke:{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(channel)
        deadline = time.monotonic() + timeout_s
        t0 = time.perf_counter()
        receivers = client.publish(channel, payload)
        while time.monotonic() < deadline:
            msg = pubsub.get_message(timeout=0.1)
            if msg is not None:
                return receivers, msg["data"].decode(), (time.perf_counter() - t0) * 1000
        raise StackError(f"no message on Redis channel {channel} within {timeout_s} s")
    except redis.ConnectionError as exc:
        raise _unavailable("Redis", url, exc) from exc
    finally:
        pubsub.close()
        client.close()


def kafka_roundtrip(payload: str, timeout_s: float = 15.0) -> tuple[int, int, str, float]:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError

    bootstrap = config.endpoints().kafka_bootstrap_servers
    ms = int(timeout_s * 1000)
    topic = f"{config.KAFKA_PREFIX}smoke-{uuid.uuid4().hex[:8]}"
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=ms)
    except KafkaError as exc:
        raise _unavailable("Kafka", bootstrap, exc) from exc
    try:
        admin.create_topics([NewTopic(topic, 1, 1)], timeout_ms=ms)
        producer = KafkaProducer(
            bootstrap_servers=bootstrap, max_block_ms=ms, request_timeout_ms=ms
        )
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=ms + 1000)
        try:
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            t0 = time.perf_counter()
            meta = producer.send(topic, payload.encode()).get(timeout=timeout_s)
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                for records in consumer.poll(timeout_ms=200).values():
                    rec = records[0]
                    ms_taken = (time.perf_counter() - t0) * 1000
                    return meta.partition, rec.offset, rec.value.decode(), ms_taken
            raise StackError(f"no record back from Kafka topic {topic} within {timeout_s} s")
        finally:
            producer.close(timeout=5)
            consumer.close()
    except KafkaError as exc:
        raise _unavailable("Kafka", bootstrap, exc) from exc
    finally:
        with contextlib.suppress(KafkaError):
            admin.delete_topics([topic], timeout_ms=ms)
        admin.close()


def publish_receivers(subscribers: int, timeout_s: float = 5.0) -> int:
    """Open ``subscribers`` connections subscribed to a fresh channel, PUBLISH once, and
    return what PUBLISH returned: the number of clients that received the message."""
    import redis

    if not 0 <= subscribers <= 50:
        raise ValueError(f'"subscribers" must be in 0..50, got {subscribers}.')
    url = config.endpoints().redis_url
    channel = f"{config.REDIS_PREFIX}smoke:{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    subs = []
    try:
        for _ in range(subscribers):
            sub = client.pubsub()
            subs.append(sub)
            sub.subscribe(channel)
            sub.get_message(timeout=timeout_s)  # the subscribe confirmation
        return int(client.publish(channel, "anyone there?"))
    except redis.ConnectionError as exc:
        raise _unavailable("Redis", url, exc) from exc
    finally:
        for sub in subs:
            sub.close()
        client.close()


def roundtrip(payload: str = "hello, events") -> Roundtrip:
    """One message through Redis Pub/Sub and one through Kafka, and what came back."""
    receivers, r_payload, r_ms = redis_roundtrip(payload)
    partition, offset, k_payload, k_ms = kafka_roundtrip(payload)
    return Roundtrip(receivers, r_payload, r_ms, partition, offset, k_payload, k_ms)

"""One way through a broker and back, behind one interface: the throughput lab's links.

A :class:`Link` is a sending side and a receiving side of one configuration
(:class:`labs.experiments.throughput.Config`) on names of one lab run: :meth:`Link.send`
hands a batch of payloads to the client (one Redis pipeline; as many Kafka ``send()`` /
``produce()`` calls), :meth:`Link.receive` returns what arrived within a timeout (called
from the receiving thread only), :meth:`Link.flush` waits, bounded, for what the producer
still holds, :meth:`Link.close` closes both clients.

- Redis Pub/Sub: PUBLISH in a pipeline; a subscriber's ``get_message``.
- Redis Streams: XADD in a pipeline; XREADGROUP (COUNT 1000, BLOCK) then one XACK per batch.
- Kafka, kafka-python: ``KafkaProducer(acks, linger_ms, compression_type)``, a consumer
  assigned the topic's one partition (no group: nothing to join or rebalance).
- Kafka, confluent-kafka: ``Producer({"acks", "linger.ms", "compression.type"})`` and an
  assigned ``Consumer``; every wait has a timeout (``socket.timeout.ms``,
  ``message.timeout.ms``) and :func:`labs.clients.wait_until`'s one-line error.

Idempotence is off on both Kafka clients, so ``acks`` is the only difference between an
``acks=1`` and an ``acks=all`` configuration.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable
from typing import Any

import redis

from labs.clients import (
    KAFKA_REQUEST_TIMEOUT_MS,
    BrokerUnavailable,
    kafka_admin,
    redis_client,
    subscribe,
    wait_until,
)
from labs.experiments.throughput import Config
from labs.naming import Scratch
from labs.recording import Clock
from labs.stack import endpoints

#: Entries one XREADGROUP / records one Kafka poll returns at most.
READ_BATCH = 1000
#: Milliseconds kafka-python's send() may block on a full buffer (a point stays bounded).
MAX_BLOCK_MS = 500


#: ``acked(body, t)``: the broker acknowledged the message ``body`` at run time ``t``.
Acked = Callable[[bytes, float], None]


class Link:
    """See the module docstring. ``acked`` is told when the broker acknowledged each
    message (run time of ``clock``): a Redis command's reply, a Kafka produce response."""

    acked: Acked
    clock: Clock
    #: Requests the client's own batching sent the messages in so far: kafka-python's
    #: produce batches (one per request, with one partition). 0 where each send call is one
    #: request (a Redis pipeline) or the client does not say (confluent-kafka batches
    #: inside librdkafka).
    requests: int = 0

    def attach(self, clock: Clock, acked: Acked) -> Link:
        self.clock, self.acked = clock, acked
        return self

    def send(self, payloads: list[bytes]) -> int:
        """Hand ``payloads`` to the client; how many it took."""
        raise NotImplementedError

    def receive(self, timeout_s: float) -> list[bytes]:
        raise NotImplementedError

    def flush(self, timeout_s: float) -> None:
        """Wait at most ``timeout_s`` for the producer's buffered messages to go out."""

    def close(self) -> None:
        raise NotImplementedError


class _RedisLink(Link):
    """A Redis link: a batch goes out as one pipeline; its reply acknowledges them all."""

    pub: redis.Redis

    def _add(self, pipe, payload: bytes) -> None:
        raise NotImplementedError

    def send(self, payloads: list[bytes]) -> int:
        pipe = self.pub.pipeline(transaction=False)
        for p in payloads:
            self._add(pipe, p)
        pipe.execute()
        now = self.clock.now()
        for p in payloads:
            self.acked(p, now)
        return len(payloads)


class PubSubLink(_RedisLink):
    def __init__(self, s: Scratch, label: str) -> None:
        self.channel = s.redis_name(label)
        self.pub = redis_client()
        self.sub_client = redis_client()
        self.sub = subscribe(self.sub_client, self.channel)
        self.dropped = False

    def _add(self, pipe, payload: bytes) -> None:
        pipe.publish(self.channel, payload)

    def receive(self, timeout_s: float) -> list[bytes]:
        if self.dropped:  # Redis closed the subscriber: what is published now is lost
            time.sleep(timeout_s)
            return []
        try:
            return self._read(timeout_s)
        except redis.ConnectionError:  # over client-output-buffer-limit pubsub
            self.dropped = True
            return []

    def _read(self, timeout_s: float) -> list[bytes]:
        out = []
        msg = self.sub.get_message(timeout=timeout_s)
        while msg is not None:
            if msg["type"] == "message":
                out.append(msg["data"])
            if len(out) >= READ_BATCH:
                break
            msg = self.sub.get_message(timeout=0)
        return out

    def close(self) -> None:
        for c in (self.sub, self.sub_client, self.pub):
            with contextlib.suppress(Exception):
                c.close()


class StreamsLink(_RedisLink):
    FIELD = b"d"

    def __init__(self, s: Scratch, label: str) -> None:
        self.stream = s.redis_name(label)
        self.group = "readers"
        self.pub = redis_client()
        self.reader = redis_client()
        self.pub.xgroup_create(self.stream, self.group, id="0", mkstream=True)

    def _add(self, pipe, payload: bytes) -> None:
        pipe.xadd(self.stream, {self.FIELD: payload})

    def receive(self, timeout_s: float) -> list[bytes]:
        block = max(1, int(timeout_s * 1000))
        got = self.reader.xreadgroup(
            self.group, "reader-0", {self.stream: ">"}, count=READ_BATCH, block=block
        )
        if not got:
            return []
        entries = got[0][1]
        self.reader.xack(self.stream, self.group, *[e[0] for e in entries])
        return [e[1][self.FIELD] for e in entries]

    def close(self) -> None:
        for c in (self.reader, self.pub):
            with contextlib.suppress(Exception):
                c.close()


class KafkaPythonLink(Link):
    def __init__(self, s: Scratch, label: str, config: Config) -> None:
        from kafka import TopicPartition

        from labs.clients import kafka_consumer, kafka_producer

        self.target = KafkaTopic(s, label, config)
        self.topic, where = self.target.name, {"bootstrap_servers": self.target.bootstrap}
        self.producer = kafka_producer(
            **where,
            acks=1 if config.acks == "1" else config.acks,
            enable_idempotence=False,
            linger_ms=config.linger_ms,
            compression_type=None if config.compression == "none" else config.compression,
            max_request_size=2_000_000,
            max_block_ms=MAX_BLOCK_MS,
        )
        self.consumer = kafka_consumer(group_id=None, fetch_max_wait_ms=100, **where)
        self.consumer.assign([TopicPartition(self.topic, 0)])
        self.consumer.seek_to_beginning()
        self._batch: object = None

    def send(self, payloads: list[bytes]) -> int:
        from kafka.errors import KafkaTimeoutError

        for sent, p in enumerate(payloads):
            try:
                future = self.producer.send(self.topic, value=p)
            except KafkaTimeoutError:  # buffer_memory full for max_block_ms: saturated
                return sent
            future.add_callback(self._acked, p)
            # the records of one batch share its produce future (kafka-python 3.0's
            # FutureRecordMetadata._produce_future): a new one is a new batch
            batch = getattr(future, "_produce_future", None)
            if batch is not None and batch is not self._batch:
                self._batch, self.requests = batch, self.requests + 1
        return len(payloads)

    def _acked(self, body: bytes, _metadata) -> None:  # in the producer's sender thread
        self.acked(body, self.clock.now())

    def receive(self, timeout_s: float) -> list[bytes]:
        got = self.consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=READ_BATCH)
        return [r.value for records in got.values() for r in records]

    def flush(self, timeout_s: float) -> None:
        from kafka.errors import KafkaError

        with contextlib.suppress(KafkaError):
            self.producer.flush(timeout=timeout_s)

    def close(self) -> None:
        from labs.clients import close_producer

        with contextlib.suppress(Exception):
            close_producer(self.producer, timeout_s=1.0)
        with contextlib.suppress(Exception):
            self.consumer.close(autocommit=False)
        self.target.delete()


class KafkaTopic:
    """A fresh one-partition topic for ``config``: on the course's broker (a scratch name,
    deleted with the run) or, with ``replicas=3``, on the 3-broker cluster (created with
    ``min.insync.replicas=2``, every replica in sync before it is used, deleted by
    :meth:`delete`)."""

    def __init__(self, s: Scratch, label: str, config: Config) -> None:
        self.on_cluster = config.replicas > 1
        if not self.on_cluster:
            self.bootstrap = endpoints().kafka_bootstrap_servers
            self.name = s.topic(label)
            return
        from kafka.admin import NewTopic

        from labs.stack import cluster

        if not cluster.running():
            raise BrokerUnavailable(
                f"{config.name} needs the 3-broker cluster, which is not running; "
                "start it with: python -m labs.stack up --cluster"
            )
        self.bootstrap = cluster.bootstrap_servers()
        self.name = s.kafka_name(label)
        self.admin = kafka_admin(bootstrap_servers=self.bootstrap)
        spec = NewTopic(self.name, 1, config.replicas, topic_configs={"min.insync.replicas": "2"})
        self.admin.create_topics([spec], timeout_ms=10_000)
        wait_until(
            lambda: _in_sync(cluster, self.name) == config.replicas,
            timeout_s=20,
            what=f"every replica of {self.name} in sync on the cluster",
            interval_s=0.2,
        )

    def delete(self) -> None:
        if self.on_cluster:
            with contextlib.suppress(Exception):
                self.admin.delete_topics([self.name], timeout_ms=5000)
            with contextlib.suppress(Exception):
                self.admin.close()


def _in_sync(cluster, topic: str) -> int:
    from labs.stack.prereqs import StackError

    try:
        return len(cluster.describe(topic, timeout_s=1.0)[0].isr)
    except StackError:  # not on the answering broker yet
        return 0


def confluent_common(bootstrap: str | None = None) -> dict[str, Any]:
    """Settings every confluent-kafka client of the course gets: where, and timeouts."""
    return {
        "bootstrap.servers": bootstrap or endpoints().kafka_bootstrap_servers,
        "socket.timeout.ms": KAFKA_REQUEST_TIMEOUT_MS,
        "socket.connection.setup.timeout.ms": KAFKA_REQUEST_TIMEOUT_MS,
        "reconnect.backoff.max.ms": 1000,
        # TCP_NODELAY, as the Java client and kafka-python set it: small requests go at once.
        "socket.nagle.disable": True,
    }


class ConfluentLink(Link):
    def __init__(self, s: Scratch, label: str, config: Config) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

        self.target = KafkaTopic(s, label, config)
        self.topic = self.target.name
        self.producer = Producer(
            {
                **confluent_common(self.target.bootstrap),
                "acks": config.acks,
                "enable.idempotence": False,
                "linger.ms": config.linger_ms,
                "compression.type": config.compression,
                "message.timeout.ms": 10000,
                "message.max.bytes": 2_000_000,
            }
        )
        self.consumer = Consumer(
            {
                **confluent_common(self.target.bootstrap),
                "group.id": s.group(label),
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 100,
                "enable.partition.eof": False,
            }
        )
        self.consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])

    def send(self, payloads: list[bytes]) -> int:
        sent, now, acked = 0, self.clock.now(), self.acked
        for p in payloads:
            try:  # librdkafka measures produce() -> ack (Message.latency())
                self.producer.produce(
                    self.topic,
                    p,
                    on_delivery=lambda err, m, t=now: err or acked(m.value(), t + m.latency()),
                )
            except BufferError:  # the local queue is full: the client is saturated
                self.producer.poll(0.001)
                break
            sent += 1
        self.producer.poll(0)
        return sent

    def receive(self, timeout_s: float) -> list[bytes]:
        # consume(n, timeout) waits for n messages or the timeout: wait for the first one
        # only, then take what is already there.
        first = self.consumer.poll(timeout_s)
        if first is None:
            return []
        got = [first, *self.consumer.consume(num_messages=READ_BATCH - 1, timeout=0)]
        return [m.value() for m in got if m.error() is None]

    def flush(self, timeout_s: float) -> None:
        self.producer.flush(timeout_s)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.producer.purge()
            self.producer.flush(0)
        with contextlib.suppress(Exception):
            self.consumer.close()
        # librdkafka's producer ends only when the last reference goes: without this it
        # outlives the link, and once the lab stops the cluster it logs a reconnect a second.
        self.producer = self.consumer = None
        gc.collect()
        self.target.delete()


def open_link(s: Scratch, config: Config, label: str) -> Link:
    """The link of ``config`` on fresh names of run ``s`` (``label`` tells them apart)."""
    if config.system == "pubsub":
        return PubSubLink(s, label)
    if config.system == "streams":
        return StreamsLink(s, label)
    if config.client == "kafka-python":
        return KafkaPythonLink(s, label, config)
    return ConfluentLink(s, label, config)

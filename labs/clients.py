"""Clients for the course's real brokers, with a timeout on every network call.

A lab never hangs in front of a room: every Redis call has a socket and a connect timeout,
every Kafka client has request, bootstrap and blocking timeouts, and
:func:`require_brokers` checks that both brokers answer before a lab starts, failing within
a few seconds with :class:`BrokerUnavailable` -- a one-line message that says what could
not be reached and how to start the brokers.

Where the brokers are comes from :func:`labs.stack.endpoints` (``REDIS_URL`` and
``KAFKA_BOOTSTRAP_SERVERS`` override the course's own ports).

A broker that dies while a lab runs ends the lab within seconds, too: :class:`BrokerWatch`
(started by :func:`labs.naming.scratch` for every run) checks every half second that the
brokers the lab uses still accept connections and, when one stops, raises
:class:`BrokerLost` in the lab's main thread -- one line naming the broker, its address and
the command that restarts the brokers. A thread that dies of a connection error to a broker
that is gone prints no traceback (the watch's ``threading.excepthook``).
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, OffsetAndMetadata
from kafka.errors import KafkaError

import sim.progress as progress
from labs.stack import endpoints

#: What to run when a broker cannot be reached.
START_HINT = "start the brokers with: python -m labs.stack up"

#: What to run when a broker stopped while a lab ran.
RESTART_HINT = "restart the brokers with: python -m labs.stack up"

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


class BrokerLost(BrokerUnavailable):
    """A broker stopped answering while a lab ran. The message is one line, with the fix."""


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
        "Kafka admin client", lambda: KafkaAdminClient(**{**_kafka_common(), **overrides})
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


def close_producer(producer: KafkaProducer, *, timeout_s: float = 2.0) -> None:
    """Close ``producer`` within about ``timeout_s``, giving up on what it could not send.

    kafka-python's ``close(timeout)`` raises if its flush times out (a dead broker) and
    leaves the producer open, whose ``__del__`` then prints a traceback at exit. Here the
    sender thread is told to drop what is pending and is joined, so the producer closes.
    """
    if timeout_s > 0:
        with contextlib.suppress(KafkaError):
            producer.flush(timeout=timeout_s)
    sender = getattr(producer, "_sender", None)
    if sender is not None and sender.is_alive():
        sender.force_close()  # fails every pending send, then the thread ends
        sender.join(timeout_s + 1.0)
    producer.close(timeout=0)


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


def _tcp_error(host: str, port: int, timeout_s: float = CONNECT_TIMEOUT_S) -> OSError | None:
    """None if ``host:port`` accepts a TCP connection within ``timeout_s``, else the error."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as exc:
        return exc


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


def _tcp_check(name: str, host: str, port: int, url: str) -> None:
    exc = _tcp_error(host, port)
    if exc is not None:
        raise BrokerUnavailable(f"{name} at {url} is unreachable ({_why(exc)}); {START_HINT}")


def _watched(*, redis_needed: bool, kafka_needed: bool) -> list[tuple[str, str, str, int]]:
    """(broker, address, host, port) of each broker a lab needs."""
    ep = endpoints()
    found = []
    if redis_needed:
        found.append(("Redis", ep.redis_url, *ep.redis_host_port))
    if kafka_needed:
        found.append(("Kafka", ep.kafka_bootstrap_servers, *ep.kafka_host_port))
    return found


def lost_message(broker: str, address: str, why: str) -> str:
    """The one line a learner sees when ``broker`` stopped while a lab ran."""
    return f"{broker} at {address} stopped answering during the lab ({why}); {RESTART_HINT}"


def brokers_lost(*, redis_needed: bool = True, kafka_needed: bool = True) -> dict[str, str]:
    """``{broker: one-line message}`` for each needed broker that refuses connections now."""
    lost = {}
    for broker, address, host, port in _watched(
        redis_needed=redis_needed, kafka_needed=kafka_needed
    ):
        exc = _tcp_error(host, port, timeout_s=1.0)
        if exc is not None:
            lost[broker] = lost_message(broker, address, _why(exc))
    return lost


#: The signal a :class:`BrokerWatch` sends the main thread. Its handler is installed once,
#: on the first watch, and stays: it does nothing unless a watch has lost a broker.
WATCH_SIGNAL = signal.SIGUSR1
_WATCHES: list[BrokerWatch] = []


def _on_watch_signal(signum, frame) -> None:
    for watch in reversed(_WATCHES):
        message = watch._take()
        if message is not None:
            raise BrokerLost(message)


def _quiet_thread_errors(args) -> None:
    """``threading.excepthook`` while labs run: a thread that died of a broker connection
    error while that broker is gone prints nothing -- the lab's main thread reports the lost
    broker in one line. Everything else goes to the previous hook."""
    broker_error = (redis.ConnectionError, redis.TimeoutError, KafkaError, OSError)
    if isinstance(args.exc_value, broker_error) and brokers_lost():
        return
    _PREVIOUS_EXCEPTHOOK(args)


_PREVIOUS_EXCEPTHOOK = threading.excepthook


def _install_handler() -> bool:
    """Install the watch's signal handler (main thread only); False where that is impossible."""
    current = signal.getsignal(WATCH_SIGNAL)
    if current is _on_watch_signal:
        return True
    if current not in (signal.SIG_DFL, None):  # someone else's handler: leave it alone
        return False
    try:
        signal.signal(WATCH_SIGNAL, _on_watch_signal)
    except ValueError:  # not the main thread of the main interpreter
        return False
    return True


class BrokerWatch:
    """Watch, from a daemon thread, that the brokers of a lab run still accept connections.

    A connection refused (the broker process is gone) counts at once; a connect timeout
    (a machine too busy to answer) only after three in a row. When a broker is lost the
    watch records :attr:`lost` (broker -> one-line message) and, if it was started in the
    main thread, raises :class:`BrokerLost` there through a signal, so that a lab blocked
    in a sleep, a flush or a wait is woken at once; its ``finally`` blocks then stop its
    threads. :meth:`stop` ends the watch; after it nothing is raised any more.
    """

    def __init__(
        self, *, redis_needed: bool = True, kafka_needed: bool = True, interval_s: float = 0.5
    ) -> None:
        self._targets = _watched(redis_needed=redis_needed, kafka_needed=kafka_needed)
        self.interval_s = interval_s
        self.lost: dict[str, str] = {}
        self._stop = threading.Event()
        self._raise = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="broker-watch", daemon=True)
        self._main_ident: int | None = None

    def start(self) -> BrokerWatch:
        if threading.excepthook is not _quiet_thread_errors:
            global _PREVIOUS_EXCEPTHOOK
            _PREVIOUS_EXCEPTHOOK = threading.excepthook
            threading.excepthook = _quiet_thread_errors
        if threading.current_thread() is threading.main_thread() and _install_handler():
            self._main_ident = threading.main_thread().ident
            self._raise = True
            _WATCHES.append(self)
        self._thread.start()
        return self

    def stop(self) -> None:
        """End the watch; no :class:`BrokerLost` is raised after this returns."""
        self._raise = False
        with self._lock:
            self._stop.set()
        self._thread.join(5.0)
        with contextlib.suppress(ValueError):
            _WATCHES.remove(self)

    def _take(self) -> str | None:
        """The message to raise in the main thread, once."""
        if self._raise and self.lost:
            self._raise = False
            return next(iter(self.lost.values()))
        return None

    def _run(self) -> None:
        timeouts = {broker: 0 for broker, *_ in self._targets}
        while not self._stop.wait(self.interval_s):
            for broker, address, host, port in self._targets:
                exc = _tcp_error(host, port, timeout_s=1.0)
                if exc is None:
                    timeouts[broker] = 0
                    continue
                if not isinstance(exc, ConnectionRefusedError):
                    timeouts[broker] += 1
                    if timeouts[broker] < 3:
                        continue
                with self._lock:
                    if self._stop.is_set():
                        return
                    self.lost[broker] = lost_message(broker, address, _why(exc))
                    if self._main_ident is not None and self._raise:
                        signal.pthread_kill(self._main_ident, WATCH_SIGNAL)
                return


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
    An open progress bar says what is awaited meanwhile (:func:`sim.progress.step`).
    """
    deadline = time.monotonic() + timeout_s
    with progress.step(f"waiting for {what}"):
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

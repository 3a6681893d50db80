"""Unique, disposable names for everything a lab creates on the brokers.

Every run of a lab gets a fresh run id. Kafka topics and consumer groups are named
``course-<learner>.<lab>-<label>-<run id>``, Redis keys, channels and streams
``course:<learner>.<lab>:<run id>:<label>`` -- so two runs never see each other's data, a
stale group member of an earlier run never delays a join, and ``python -m labs.stack reset``
(which deletes the names of one learner, see :func:`labs.stack.config.learner`) can always
clean up without touching another learner's names on a shared workshop cluster.

:func:`scratch` hands out the names and deletes, on exit -- also when the lab raised -- every
topic, group and Redis key carrying the run id, after closing the clients the lab opened
through it. While the lab runs a :class:`~labs.clients.BrokerWatch` watches its brokers: a
broker that dies ends the lab within seconds with :class:`~labs.clients.BrokerLost` (one
line: which broker, where, what to run), and the cleanup then skips the dead broker.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import redis
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import KafkaError, UnknownTopicOrPartitionError

from labs.clients import (
    BrokerLost,
    BrokerWatch,
    brokers_lost,
    close_producer,
    kafka_admin,
    kafka_consumer,
    kafka_producer,
    redis_client,
    require_brokers,
)
from labs.stack.config import KAFKA_PREFIX, REDIS_PREFIX, kafka_prefix, learner, redis_prefix

__all__ = ["KAFKA_PREFIX", "REDIS_PREFIX", "Scratch", "learner", "new_run_id", "scratch"]

#: Seconds a Kafka producer may take to close when the run ends.
PRODUCER_CLOSE_S = 2.0


def new_run_id() -> str:
    """A short random id, unique per run."""
    return uuid.uuid4().hex[:12]


class Scratch:
    """The names and clients of one lab run; see :func:`scratch`."""

    def __init__(self, lab: str, run_id: str, who: str | None = None) -> None:
        self.lab = lab
        self.run_id = run_id
        self.learner = who or learner()
        self.topics: list[str] = []
        self.groups: list[str] = []
        self.redis_names: list[str] = []
        self._clients: list[Any] = []
        self._admin = None
        self._redis: redis.Redis | None = None

    # -- names ---------------------------------------------------------------------------
    def kafka_name(self, label: str) -> str:
        return f"{kafka_prefix(self.learner)}{self.lab}-{label}-{self.run_id}"

    def redis_name(self, label: str) -> str:
        """A Redis key, channel or stream name for this run."""
        name = f"{redis_prefix(self.learner)}{self.lab}:{self.run_id}:{label}"
        self.redis_names.append(name)
        return name

    def group(self, label: str) -> str:
        """A fresh consumer group id."""
        name = self.kafka_name(label)
        self.groups.append(name)
        return name

    def topic(self, label: str, *, partitions: int = 1, configs: dict | None = None) -> str:
        """Create a fresh topic (replication factor 1) and wait until it has leaders."""
        name = self.kafka_name(label)
        self.topics.append(name)
        spec = {"num_partitions": partitions, "replication_factor": 1}
        if configs:
            spec["configs"] = {k: str(v) for k, v in configs.items()}
        self.admin.create_topics({name: spec}, timeout_ms=5000, wait_for_metadata=True)
        return name

    def broker_setting(self, name: str) -> str:
        """The value of the broker setting ``name`` (e.g. ``log.cleaner.backoff.ms``) on the
        course's broker (node 1)."""
        res = ConfigResource(ConfigResourceType.BROKER, "1")
        configs = self.admin.describe_configs([res], config_filter="all")
        broker = next(iter(configs["broker"].values()))
        return str(broker[name]["value"])

    # -- clients -------------------------------------------------------------------------
    @property
    def admin(self):
        if self._admin is None:
            self._admin = kafka_admin()
        return self._admin

    @property
    def redis(self) -> redis.Redis:
        """A shared Redis client for ordinary commands."""
        if self._redis is None:
            self._redis = redis_client()
        return self._redis

    def producer(self, **overrides: Any):
        """A Kafka producer closed when the run ends."""
        return self.track(kafka_producer(**overrides))

    def consumer(self, *topics: str, **overrides: Any):
        """A Kafka consumer closed (without committing) when the run ends."""
        return self.track(kafka_consumer(*topics, **overrides))

    def track(self, client: Any) -> Any:
        """Close ``client`` when the run ends (if the lab has not closed it already)."""
        self._clients.append(client)
        return client

    # -- cleanup -------------------------------------------------------------------------
    def cleanup(self, *, skip: tuple[str, ...] = ()) -> None:
        """Close tracked clients, delete this run's groups, topics and Redis keys.

        ``skip`` names brokers (``"Kafka"``, ``"Redis"``) known to be gone: nothing is
        deleted there, and their clients close without waiting for them.
        """
        errors: list[str] = []
        for client in reversed(self._clients):
            with contextlib.suppress(Exception):
                if hasattr(client, "unsubscribe") or not hasattr(client, "commit"):
                    if hasattr(client, "flush"):  # a Kafka producer: bounded close
                        close_producer(client, timeout_s=0 if "Kafka" in skip else PRODUCER_CLOSE_S)
                    else:
                        client.close()
                else:
                    client.close(autocommit=False, timeout_ms=0 if "Kafka" in skip else None)
        self._clients.clear()
        if "Kafka" not in skip:
            try:
                self._delete_kafka()
            except KafkaError as exc:
                errors.append(f"Kafka: {exc!r}")
        if "Redis" not in skip:
            try:
                self._delete_redis()
            except redis.RedisError as exc:
                errors.append(f"Redis: {exc!r}")
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
        if self._redis is not None:
            with contextlib.suppress(Exception):
                self._redis.close()
        if errors:
            raise RuntimeError(f"cleanup of run {self.run_id} failed: {'; '.join(errors)}")

    def _delete_kafka(self) -> None:
        if not (self.topics or self.groups):
            return
        admin = self.admin
        deadline = time.monotonic() + 8.0
        while True:
            groups = [g["group_id"] for g in admin.list_groups() if self.run_id in g["group_id"]]
            pending = []
            for group in groups:
                result = admin.delete_groups([group])
                if not _deleted_ok(result.get(group)):
                    pending.append(group)
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(0.2)  # members still leaving: retry until the deadline
        topics = [t for t in admin.list_topics() if self.run_id in t]
        if topics:
            with contextlib.suppress(UnknownTopicOrPartitionError):
                admin.delete_topics(topics, timeout_ms=5000)
            # Deletion is asynchronous: wait until the metadata no longer lists them.
            deadline = time.monotonic() + 5.0
            while any(self.run_id in t for t in admin.list_topics()):
                if time.monotonic() >= deadline:
                    raise KafkaError(f"topics {topics} still listed 5 s after deletion")
                time.sleep(0.05)

    def _delete_redis(self) -> None:
        r = self.redis
        names = list(r.scan_iter(match=f"{REDIS_PREFIX}*{self.run_id}*", count=1000))
        for i in range(0, len(names), 500):
            r.delete(*names[i : i + 500])


def _deleted_ok(error: Any) -> bool:
    """True if ``delete_groups`` deleted the group or found it gone already."""
    return error in ("OK", "GroupIdNotFoundError")


@contextlib.contextmanager
def scratch(lab: str, *, redis_needed: bool = True, kafka_needed: bool = True) -> Iterator[Scratch]:
    """Check the brokers, hand out names for one run, delete them all on exit.

    A broker lost while the run is inside raises :class:`~labs.clients.BrokerLost` (also
    when the lab itself failed first with a client error the dead broker caused).
    """
    require_brokers(redis_needed=redis_needed, kafka_needed=kafka_needed)
    s = Scratch(lab, new_run_id())
    watch = BrokerWatch(redis_needed=redis_needed, kafka_needed=kafka_needed).start()
    try:
        yield s
    except BaseException as exc:
        watch.stop()
        lost = watch.lost or _lost_now(exc, redis_needed, kafka_needed)
        # Clean up, but let the lab's own error be the one reported.
        with contextlib.suppress(Exception):
            s.cleanup(skip=tuple(lost))
        if lost and not isinstance(exc, BrokerLost):
            raise BrokerLost(next(iter(lost.values()))) from exc
        raise
    watch.stop()
    if watch.lost:
        with contextlib.suppress(Exception):
            s.cleanup(skip=tuple(watch.lost))
        raise BrokerLost(next(iter(watch.lost.values())))
    try:
        s.cleanup()
    except Exception as exc:
        lost = brokers_lost(redis_needed=redis_needed, kafka_needed=kafka_needed)
        if lost:
            raise BrokerLost(next(iter(lost.values()))) from exc
        raise


def _lost_now(exc: BaseException, redis_needed: bool, kafka_needed: bool) -> dict[str, str]:
    """Brokers gone now, checked only when ``exc`` looks like something a dead broker causes."""
    if isinstance(exc, (KeyboardInterrupt, ValueError)):
        return {}
    return brokers_lost(redis_needed=redis_needed, kafka_needed=kafka_needed)

"""What the course left on the brokers: every name with the course's prefixes, and cluster nodes.

After a test run nothing of the course may remain: :func:`find` lists the Kafka topics and
consumer groups named ``course-...``, the Redis keys named ``course:...`` (streams are keys
too) and the Redis channels named ``course:...`` that still have a subscriber (``PUBSUB
CHANNELS`` / ``SHARDCHANNELS`` with ``NUMSUB``), and any node of the durability cluster
(:mod:`labs.stack.cluster`) still running from this stack's folder, and any private
redis-server a lab started (:mod:`labs.stack.private_redis`) still running.
``python -m labs.stack leftovers`` prints them by name and exits 1 if there is any.
"""

from __future__ import annotations

from dataclasses import dataclass

from labs.stack import config, private_redis
from labs.stack.prereqs import StackError


@dataclass(frozen=True)
class Leftovers:
    """Names of what is left, per kind; empty tuples when clean."""

    redis_url: str
    kafka_bootstrap_servers: str
    topics: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()  # "name (n subscribers)"
    cluster_nodes: tuple[str, ...] = ()  # "broker-1 pid 123"
    private_redis: tuple[str, ...] = ()  # "pid 123 in /tmp/course-redis-..."

    def lines(self) -> list[str]:
        """One line per leftover: what it is, where, and its name."""
        kafka, rds = f"Kafka {self.kafka_bootstrap_servers}", f"Redis {self.redis_url}"
        return (
            [f"{kafka}: topic {t}" for t in self.topics]
            + [f"{kafka}: consumer group {g}" for g in self.groups]
            + [f"{rds}: key {k}" for k in self.keys]
            + [f"{rds}: subscribed channel {c}" for c in self.channels]
            + [f"durability cluster: node {n} still running" for n in self.cluster_nodes]
            + [f"private redis-server (a lab's) {p} still running" for p in self.private_redis]
        )

    def __bool__(self) -> bool:
        return bool(self.lines())


def find(timeout_s: float = 10.0) -> Leftovers:
    """List what the course left on its brokers (those of :func:`labs.stack.config.endpoints`)."""
    ep = config.endpoints()
    topics, groups = _kafka(ep.kafka_bootstrap_servers, timeout_s)
    keys, channels = _redis(ep.redis_url, timeout_s)
    return Leftovers(
        ep.redis_url,
        ep.kafka_bootstrap_servers,
        topics,
        groups,
        keys,
        channels,
        _cluster_nodes(),
        private_redis.leftovers(),
    )


def _kafka(bootstrap: str, timeout_s: float) -> tuple[tuple[str, ...], tuple[str, ...]]:
    from kafka import KafkaAdminClient

    ms = int(timeout_s * 1000)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=ms, bootstrap_timeout_ms=ms
        )
    except Exception as exc:  # noqa: BLE001 - any client error: unreachable
        raise StackError(
            f"Kafka at {bootstrap} is unreachable ({type(exc).__name__}); start the brokers "
            "with: python -m labs.stack up"
        ) from exc
    try:
        topics = sorted(t for t in admin.list_topics() if t.startswith(config.KAFKA_PREFIX))
        groups = sorted(
            g["group_id"]
            for g in admin.list_groups()
            if g["group_id"].startswith(config.KAFKA_PREFIX)
        )
    finally:
        admin.close()
    return tuple(topics), tuple(groups)


def _redis(url: str, timeout_s: float) -> tuple[tuple[str, ...], tuple[str, ...]]:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=5)
    pattern = f"{config.REDIS_PREFIX}*"
    try:
        keys = sorted(k.decode(errors="replace") for k in client.scan_iter(pattern, count=1000))
        channels = []
        for list_names, numsub in (
            (client.pubsub_channels, client.pubsub_numsub),
            (client.pubsub_shardchannels, client.pubsub_shardnumsub),
        ):
            names = list_names(pattern)
            if names:
                channels += [
                    f"{n.decode(errors='replace')} ({count} subscribers)"
                    for n, count in numsub(*names)
                ]
    except redis.RedisError as exc:
        raise StackError(
            f"Redis at {url} is unreachable ({type(exc).__name__}); start the brokers with: "
            "python -m labs.stack up"
        ) from exc
    finally:
        client.close()
    return tuple(keys), tuple(sorted(channels))


def _cluster_nodes() -> tuple[str, ...]:
    from labs.stack import cluster

    return tuple(f"{n.name} pid {n.pid()}" for n in cluster.nodes() if n.pid() is not None)

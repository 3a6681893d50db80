"""The configuration a decision implies: per tool, each setting with its value and why.

:func:`settings_for` turns an :class:`~sim.course.decision.events_file.EventSpec` and the tool
:func:`~sim.course.decision.recommend.recommend` chose into :class:`Setting` rows:

- **Kafka** (4.1; also the facts of a hybrid): the partition count from the key skew
  (:func:`partitions_for`: keys placed by the Java client's murmur2 -- kafka-python's port of
  it -- weighted by Zipf popularity, the busiest partition kept under
  :data:`HEADROOM` of one consumer's rate), ``acks``, ``replication.factor``,
  ``min.insync.replicas``, idempotence, ``retention.ms`` and ``segment.ms``, and the
  consumer's commit policy;
- **Redis Streams** (Redis 7.0): ``MAXLEN ~`` sized to hold an outage's backlog twice, the
  AOF policy and ``WAIT`` for a critical event;
- **Redis Pub/Sub**: the ``client-output-buffer-limit pubsub`` that lets a subscriber fall
  :data:`SLOW_SUBSCRIBER_S` seconds behind before Redis disconnects it, and the reconnect.

Sources: Kafka 4.1 topic and producer configs (https://kafka.apache.org/documentation/#topicconfigs,
#producerconfigs); Redis 7.0 ``XADD`` (https://redis.io/docs/latest/commands/xadd/),
persistence (https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/),
``WAIT`` (https://redis.io/docs/latest/commands/wait/) and client buffers
(https://redis.io/docs/latest/develop/reference/clients/#output-buffer-limits).

>>> from sim.course.decision.events_file import EventSpec
>>> from sim.course.decision.recommend import EventClass
>>> n, load = partitions_for(EventSpec(EventClass("e", rate_per_s=1000, service_rate_per_s=2000)))
>>> n, round(load, 3)
(1, 0.5)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.core.workload import zipf_weights
from sim.course.decision.events_file import EventSpec
from sim.models.partitioner import key_hashes

#: The busiest partition may take at most this share of one consumer's rate.
HEADROOM = 0.7
#: Partition counts tried, smallest first (divisors-rich numbers, as operators pick them).
PARTITION_CHOICES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
#: A Pub/Sub subscriber may fall this far behind (s of traffic) before Redis drops it.
SLOW_SUBSCRIBER_S = 10.0
#: Kafka's default retention (log.retention.hours=168).
WEEK_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class Setting:
    """One line of configuration: where it applies, its name, its value and why."""

    scope: str
    name: str
    value: str
    why: str


def partitions_for(spec: EventSpec) -> tuple[int, float]:
    """The smallest partition count whose busiest partition stays within :data:`HEADROOM`
    of one consumer's rate, and that partition's load as a share of it. Keys are placed with
    murmur2 (:func:`~sim.models.partitioner.key_hashes`, the placement of ``partition_of``),
    weighted by Zipf popularity
    (``key_skew``; 0: uniform). When even the largest choice is too hot -- one key alone
    outruns a consumer -- it returns the largest choice and its (> headroom) load."""
    ec = spec.event
    if spec.key_skew > 0:
        weights = zipf_weights(spec.keys, spec.key_skew)
    else:
        weights = np.full(spec.keys, 1.0 / spec.keys)
    hashes = key_hashes(np.arange(spec.keys))  # murmur2 of every key, once, vectorised
    load = float("inf")
    for n in PARTITION_CHOICES:
        busiest = float(np.bincount(hashes % n, weights=weights, minlength=n).max())
        load = busiest * ec.rate_per_s / ec.service_rate_per_s
        if load <= HEADROOM:
            return n, load
    return PARTITION_CHOICES[-1], load


def _days(ms: float) -> str:
    return f"{ms:.0f} ({ms / 86_400_000:g} d)"


def kafka_settings(spec: EventSpec) -> list[Setting]:
    ec = spec.event
    n, load = partitions_for(spec)
    hot = (
        f"the busiest partition gets {100 * load:.0f} % of one consumer's "
        f"{ec.service_rate_per_s:g}/s (murmur2 over {spec.keys} keys, Zipf {spec.key_skew:g})"
    )
    if load > HEADROOM:
        hot += (
            ": one key is too hot for any partition count -- salt that key or speed up its consumer"
        )
    retention = max(WEEK_MS, 10 * ec.downtime_s * 1000)
    out = [
        Setting("topic", "partitions", str(n), hot),
        Setting(
            "topic", "replication.factor", "3", "survives one broker lost and one in maintenance"
        ),
    ]
    if ec.critical:
        out += [
            Setting(
                "topic",
                "min.insync.replicas",
                "2",
                "with acks=all a write is on 2 brokers before it is acknowledged (lesson 13)",
            ),
            Setting("producer", "acks", "all", "an acknowledged event survives a leader failover"),
            Setting(
                "producer",
                "enable.idempotence",
                "true",
                "retries add no duplicates or reordering (the Java client's default since 3.0)",
            ),
            Setting(
                "consumer",
                "enable.auto.commit",
                "false",
                "commit after processing: at-least-once; deduplicate by event id",
            ),
        ]
    else:
        out += [
            Setting("topic", "min.insync.replicas", "1", "not critical: availability first"),
            Setting(
                "producer",
                "acks",
                "1",
                "the leader's write is enough; a leader failover can lose its last writes",
            ),
        ]
    why = "longer than the longest outage (x10) and Kafka's 7-day default"
    if ec.needs_replay:
        why = (
            "replay reads history: keep at least as long as a rebuild reaches back (here the "
            "7-day default); or compact the topic when only the latest value per key matters"
        )
    out += [
        Setting("topic", "retention.ms", _days(retention), why),
        Setting(
            "topic",
            "segment.ms",
            _days(min(retention / 7, WEEK_MS)),
            "retention deletes whole segments: a segment a seventh of the retention keeps "
            "the overshoot small",
        ),
    ]
    return out


def streams_settings(spec: EventSpec, persistence: str) -> list[Setting]:
    ec = spec.event
    backlog = ec.rate_per_s * ec.downtime_s
    maxlen = int(max(2 * backlog, 10 * ec.rate_per_s, 1000))
    mb = maxlen * spec.message_bytes / 1e6
    out = [
        Setting(
            "XADD",
            "MAXLEN ~",
            str(maxlen),
            f"twice an outage's backlog ({backlog:.0f} events), about {mb:.0f} MB; trimming "
            "drops entries still pending too, so never below the backlog",
        ),
    ]
    if ec.critical:
        kept = persistence if persistence.startswith("aof") else "aof_always"
        out += [
            Setting("redis.conf", "appendonly", "yes", "a restart without AOF loses the stream"),
            Setting(
                "redis.conf",
                "appendfsync",
                "always" if kept == "aof_always" else "everysec",
                "always: no acknowledged write lost on a crash; everysec: up to ~1 s on a "
                "power loss",
            ),
            Setting(
                "client",
                "WAIT 1 <timeout>",
                "after each critical XADD",
                "replication is asynchronous: a failover loses acknowledged writes the "
                "replica had not got",
            ),
        ]
    else:
        out.append(
            Setting(
                "redis.conf",
                "appendonly",
                "yes (everysec)" if persistence != "none" else "no",
                "not critical: a restart may lose the stream's recent entries",
            )
        )
    out.append(
        Setting(
            "consumer",
            "XAUTOCLAIM min-idle-time",
            "30000 ms",
            "longer than the slowest batch takes: claim what a crashed consumer left "
            "pending; dead-letter an entry after a few deliveries",
        )
    )
    return out


def pubsub_settings(spec: EventSpec) -> list[Setting]:
    ec = spec.event
    hard = max(8e6, ec.rate_per_s * spec.message_bytes * SLOW_SUBSCRIBER_S)
    soft = hard / 4
    mb = lambda b: f"{math.ceil(b / 1e6)}mb"  # noqa: E731
    return [
        Setting(
            "redis.conf",
            "client-output-buffer-limit pubsub",
            f"{mb(hard)} {mb(soft)} 60",
            f"a subscriber may fall {SLOW_SUBSCRIBER_S:g} s behind ({ec.rate_per_s:g}/s x "
            f"{spec.message_bytes} B) before Redis disconnects it (the default is 32mb 8mb 60)",
        ),
        Setting(
            "subscriber",
            "reconnect",
            "resubscribe at once, with backoff",
            f"what is published while away is gone: about {ec.rate_per_s * ec.downtime_s:.0f} "
            f"events per {ec.downtime_s:g} s outage",
        ),
    ]


def settings_for(spec: EventSpec, tool: str, persistence: str = "none") -> tuple[Setting, ...]:
    """The configuration of ``tool`` for ``spec`` (a hybrid: Kafka's plus the bridge's)."""
    if tool == "kafka":
        return tuple(kafka_settings(spec))
    if tool == "streams":
        return tuple(streams_settings(spec, persistence))
    if tool == "pubsub":
        return tuple(pubsub_settings(spec))
    if tool == "hybrid":
        bridge = Setting(
            "bridge",
            "notifications",
            "PUBLISH each fact after Kafka acknowledged it",
            "live readers get a push; a lost notification never loses the fact",
        )
        return (*kafka_settings(spec), bridge, *pubsub_settings(spec))
    raise ValueError(f'"tool" must be one of kafka, streams, pubsub, hybrid, got {tool!r}')

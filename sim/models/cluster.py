"""The replicated Kafka cluster of the durability lesson: its broker settings, in one place.

The lab's native 3-broker KRaft cluster (``labs.stack.cluster``) is configured with these
values, and the simulator's durability twin (:mod:`sim.course.durability`) assumes them;
both read them from here (the simulator never imports the labs).
"""

from __future__ import annotations

#: ``replica.lag.time.max.ms``: a follower that has not caught up for this long leaves the ISR.
REPLICA_LAG_TIME_MAX_MS = 10_000
#: ``broker.session.timeout.ms``: a broker that misses heartbeats this long is fenced (and
#: leaves every ISR).
BROKER_SESSION_TIMEOUT_MS = 3_000
#: ``broker.heartbeat.interval.ms``.
BROKER_HEARTBEAT_INTERVAL_MS = 500
#: ``min.insync.replicas``: with ``acks=all``, fewer in-sync replicas reject writes.
MIN_INSYNC_REPLICAS = 2
#: ``default.replication.factor``: replicas of every partition.
REPLICATION_FACTOR = 3

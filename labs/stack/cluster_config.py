"""What the durability lab's native Kafka cluster is: its nodes' ids and ports, the settings
that decide the lab's outcome, each node's ``server.properties`` and the cluster's id.

The processes themselves -- start, stop, faults, status -- are :mod:`labs.stack.cluster`,
which re-exports the names here.
"""

from __future__ import annotations

import base64
import os
import uuid

from labs.stack import config

# The replication settings live in one place, shared with the simulator's durability twin.
# replica.lag.time.max.ms is 10 s (Kafka's default is 30 s) so a stalled follower leaves the
# ISR within a lab's run, after which acks=all with min.insync.replicas=2 rejects writes
# (NOT_ENOUGH_REPLICAS) instead of holding them; a frozen broker also stops heart-beating and
# is fenced after broker.session.timeout.ms (3 s), which removes it from every ISR too.
from sim.models.cluster import (
    BROKER_HEARTBEAT_INTERVAL_MS,
    BROKER_SESSION_TIMEOUT_MS,
    MIN_INSYNC_REPLICAS,
    REPLICA_LAG_TIME_MAX_MS,
    REPLICATION_FACTOR,
)

#: Node id of the KRaft controller and of the three brokers.
CONTROLLER_ID = 0
BROKER_IDS = (1, 2, 3)
DEFAULT_PORTS = (19190, 19191, 19192, 19193)
#: Seconds ``up`` may take before it gives up (the issue asks for <= 60 s on 2 cores).
READY_TIMEOUT_S = 90.0
#: Each node's JVM: 4 JVMs share 2 cores here, so small heaps and few GC threads, and only
#: the quick C1 compiler (TieredStopAtLevel=1): it halves the start (measured 23 s -> 12 s
#: for the cluster) and a lab's few hundred messages a second never need C2's code.
JVM_OPTS = (
    "-Xms256m",
    "-Xmx384m",
    "-XX:+UseG1GC",
    "-XX:ParallelGCThreads=1",
    "-XX:ConcGCThreads=1",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",  # no hsperfdata file (and no chdir to /tmp while starting)
    "-Djava.awt.headless=true",
)


def ports() -> tuple[int, int, int, int]:
    """(controller, broker 1, broker 2, broker 3) ports, from ``COURSE_CLUSTER_PORTS``."""
    raw = os.environ.get("COURSE_CLUSTER_PORTS", "").strip()
    if not raw:
        return DEFAULT_PORTS
    try:
        values = tuple(int(x) for x in raw.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or not all(1024 <= p <= 65535 for p in values) or len(set(values)) != 4:
        raise ValueError(
            f'"COURSE_CLUSTER_PORTS" must be four distinct ports "<controller>,<b1>,<b2>,<b3>", '
            f"got {raw!r}."
        )
    return values  # type: ignore[return-value]


def server_properties(n) -> str:
    """The ``server.properties`` of node ``n`` (a :class:`labs.stack.cluster.Node`)."""
    voters = f"{CONTROLLER_ID}@{config.HOST}:{ports()[0]}"
    common = f"""# Written by `python -m labs.stack up --cluster`: node {n.node_id} of a 3-broker
# Kafka cluster with its own KRaft controller, loopback only.
node.id={n.node_id}
controller.quorum.voters={voters}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={n.home / "data"}
num.network.threads=2
num.io.threads=2
background.threads=2
log.cleaner.dedupe.buffer.size=16777216
log.cleaner.threads=1
"""
    if n.role == "controller":
        return (
            common
            + f"""process.roles=controller
listeners=CONTROLLER://{config.HOST}:{n.port}
# Brokers that miss heartbeats for this long are fenced (and leave every ISR).
broker.session.timeout.ms={BROKER_SESSION_TIMEOUT_MS}
broker.heartbeat.interval.ms={BROKER_HEARTBEAT_INTERVAL_MS}
"""
        )
    return (
        common
        + f"""process.roles=broker
listeners=PLAINTEXT://{config.HOST}:{n.port}
advertised.listeners=PLAINTEXT://{config.HOST}:{n.port}
inter.broker.listener.name=PLAINTEXT
broker.session.timeout.ms={BROKER_SESSION_TIMEOUT_MS}
broker.heartbeat.interval.ms={BROKER_HEARTBEAT_INTERVAL_MS}
num.partitions=1
auto.create.topics.enable=false
default.replication.factor={REPLICATION_FACTOR}
min.insync.replicas={MIN_INSYNC_REPLICAS}
unclean.leader.election.enable=false
replica.lag.time.max.ms={REPLICA_LAG_TIME_MAX_MS}
replica.fetch.wait.max.ms=100
num.replica.fetchers=1
offsets.topic.replication.factor={REPLICATION_FACTOR}
offsets.topic.num.partitions=4
transaction.state.log.replication.factor={REPLICATION_FACTOR}
transaction.state.log.min.isr={MIN_INSYNC_REPLICAS}
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor={REPLICATION_FACTOR}
share.coordinator.state.topic.min.isr={MIN_INSYNC_REPLICAS}
share.coordinator.state.topic.num.partitions=4
group.initial.rebalance.delay.ms=0
"""
    )


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID in URL-safe base64, 22 characters. Like Kafka's own
    ``Uuid.randomUuid``, never one that starts with "-": ``kafka-storage format -t -xyz...``
    reads such an id as an option and fails (``argument --cluster-id/-t: expected one
    argument``), which made one fresh cluster in 64 fail to start."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid

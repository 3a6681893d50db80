"""Durability under broker failure, on a real 3-broker Kafka cluster.

A producer sends unique, numbered values at ``rate_per_s`` for ``duration_s`` seconds to a
one-partition topic with replication factor 3, and records every send: acknowledged (OK), refused
(FAILED) or unknown (a timeout: it may or may not be in the log). Meanwhile a fault schedule --
data, see :class:`sim.core.faults.Fault` -- SIGKILLs the partition leader, or SIGSTOPs its
followers, lets the leader acknowledge alone and then SIGKILLs it; then every node is thawed and
restarted. A final *drain* reads the whole partition from the beginning (``assign`` +
``seek_to_beginning`` up to the end offset), and the checker from the simulator says what happened
to every acknowledged write: lost, duplicated, reordered, or kept.

Parameters, ranges and the theory: :mod:`labs.experiments.durability`.

The cluster is the course's native one (:mod:`labs.stack.cluster`, ``python -m labs.stack up
--cluster``); if it does not run, the lab starts it and stops it at the end, also on failure. The
lab undoes what its schedule did (thaws, restarts); a node that exits or stops otherwise ends the
run at once with :class:`ClusterBroken`, one line naming the node and what to run. Every network
call has a timeout. The compose profile ``cluster`` runs the same cluster under Docker for
exploring it, not for this lab's faults.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    NotEnoughReplicasAfterAppendError,
    RequestTimedOutError,
)

import sim.progress as progress
from labs.clients import WaitTimeout
from labs.experiments.durability import IDEMPOTENCE, check_call
from labs.stack import cluster, config
from labs.stack.config import KAFKA_PREFIX
from labs.stack.prereqs import StackError
from labs.stack.probe import port_open
from sim.analysis.result import Result
from sim.core.faults import Fault
from sim.core.history import FAILED, OK, UNKNOWN, History, ReaderHistory
from sim.course.durability import (
    DELIVERY_TIMEOUT_MS,
    FROZEN_FOLLOWERS,
    FROZEN_FOLLOWERS_SHORT,
    LEADER_KILL,
    MAX_BLOCK_MS,
    REQUEST_TIMEOUT_MS,
    SCHEDULES,
    ack_delay,
    check_run,
    fault_time,
    key_sequence,
    lost_mask,
    plot_timeline,
    producer_settings,
    schedule_of,
    settings_of,
    simulate_durability,
)

__all__ = [
    "FROZEN_FOLLOWERS",
    "FROZEN_FOLLOWERS_SHORT",
    "compare",
    "fault_time",
    "LEADER_KILL",
    "SCHEDULES",
    "Fault",
    "lost_mask",
    "plot_timeline",
    "run_durability",
    "simulate_durability",
]

SOURCE = "kafka cluster"
#: Seconds the cluster may take to have every broker back and the partition fully in sync.
RECOVER_TIMEOUT_S = 60.0
#: Seconds between two looks at the nodes' processes while the lab waits for the cluster.
POLL_S = 0.3
#: Seconds the schedule's actions (thaw, restart) may take beyond their due time.
SCHEDULE_SLACK_S = 30.0
RESTART_HINT = (
    "restart the cluster with: python -m labs.stack down --cluster && "
    "python -m labs.stack up --cluster"
)


class ClusterBroken(StackError, WaitTimeout):
    """The cluster broke or did not recover, not by the lab's schedule: one line, naming the
    node and what to run (``python -m labs`` prints it as is)."""


#: Errors after which the write may still be in the log: the outcome is unknown.
_INDEFINITE = (
    KafkaTimeoutError,
    KafkaConnectionError,
    RequestTimedOutError,
    NotEnoughReplicasAfterAppendError,
)


@dataclass
class _FaultLog:
    """What the fault thread did and saw, with run times (seconds since the first send)."""

    clock_t0: float
    entries: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.clock_t0

    def add(self, what: str, t: float | None = None) -> None:
        with self.lock:
            self.entries.append((self.now() if t is None else t, what))


class _Faults(threading.Thread):
    """Runs a schedule against the cluster: kills, freezes, thaws and restarts nodes at their
    times, and (while nothing is frozen) notes every change of the partition's leader."""

    def __init__(self, topic: str, faults: tuple[Fault, ...], log: _FaultLog, leader: int):
        super().__init__(name="durability-faults", daemon=True)
        self.topic, self.faults, self.log = topic, faults, log
        self.leader = leader  # last known leader (node id)
        self.replicas = tuple(cluster.BROKER_IDS)
        self.frozen: set[int] = set()
        self.killed: set[int] = set()
        self.stop_event = threading.Event()
        self.done = threading.Event()  # every event of the schedule happened
        self.error: BaseException | None = None

    def _events(self) -> list[tuple[float, int, str, Fault]]:
        events = []
        for i, f in enumerate(self.faults):
            events.append((f.start_s, i, "start", f))
            if f.end_s is not None and f.kind != "restart-all":
                events.append((f.end_s, i, "end", f))
        return sorted(events, key=lambda e: (e[0], e[1]))

    def run(self) -> None:
        try:
            pending: dict[int, set[int]] = {}  # fault index -> nodes it acted on
            for at, i, phase, f in self._events():
                while not self.stop_event.is_set():
                    left = at - self.log.now()
                    if left <= 0:
                        break
                    if left > 1.5:  # a metadata request takes a while: never delay a fault
                        self._watch_leader()
                    self.stop_event.wait(min(left, 0.3))
                if self.stop_event.is_set():
                    return
                pending[i] = self._act(f, phase, pending.get(i, set()))
            self.done.set()
            while not self.stop_event.wait(0.3):
                self._watch_leader()
        except BaseException as exc:  # noqa: BLE001 - re-raised by the lab
            self.error = exc
        finally:
            self.done.set()

    def _act(self, f: Fault, phase: str, nodes: set[int]) -> set[int]:
        if f.kind == "kill-leader" and phase == "start":
            victim, t = self.leader, self.log.now()
            cluster.kill(f"broker-{victim}")
            self.killed.add(victim)
            self.log.add(f"kill broker-{victim} (leader of partition 0)", t)
            return {victim}
        if f.kind == "kill-leader":  # end: restart it
            return self._restart(nodes)
        if f.kind == "freeze-followers" and phase == "start":
            followers = {b for b in self.replicas if b != self.leader and b not in self.killed}
            t = self.log.now()
            for b in sorted(followers):
                cluster.freeze(f"broker-{b}")
            self.frozen |= followers
            self.log.add(f"freeze {_names(followers)} (followers)", t)
            return followers
        if f.kind == "freeze-followers":  # end: thaw them
            self._thaw(nodes & self.frozen)
            return set()
        # restart-all
        self._thaw(set(self.frozen))
        self._restart(set(self.killed))
        return set()

    def _thaw(self, nodes: set[int]) -> None:
        t = self.log.now()
        for b in sorted(nodes):
            cluster.thaw(f"broker-{b}")
        self.frozen -= nodes
        if nodes:
            self.log.add(f"thaw {_names(nodes)}", t)

    def _restart(self, nodes: set[int]) -> set[int]:
        t = self.log.now()
        for b in sorted(nodes):
            cluster.start(f"broker-{b}")
        self.killed -= nodes
        if nodes:
            self.log.add(f"restart {_names(nodes)}", t)
        return set()

    def _watch_leader(self) -> None:
        if self.frozen:
            return  # a metadata request could hang on a frozen broker
        try:
            (p,) = cluster.describe(self.topic, timeout_s=1.0)
        except Exception:  # noqa: BLE001 - a broker is down; try again later
            return
        if p.leader != self.leader and p.leader >= 0:
            self.log.add(f"leader of partition 0 is now broker-{p.leader} (isr {list(p.isr)})")
            self.leader = p.leader


def _names(nodes) -> str:
    return ", ".join(f"broker-{b}" for b in sorted(nodes))


def run_durability(
    *,
    acks: int | str = "all",
    schedule: str | Sequence[Fault] = "frozen-followers",
    rate_per_s: float = 100.0,
    duration_s: float = 10.0,
    seed: int = 0,
    enable_idempotence: bool | str | None = "auto",
    min_insync_replicas: int = 2,
) -> Result:
    """Run one durability experiment on the real cluster; return the checked Result.

    ``schedule`` is a name of :data:`SCHEDULES` or a sequence of :class:`Fault`; fault times
    are seconds after the first send. The result's ``settings`` are the ones that decide the
    outcome; its ``params["fault_log"]`` (also in ``metrics``) says what was done when.
    """
    v = check_call(**locals())  # ranges and defaults: labs/experiments/durability.py
    prod = producer_settings(v["acks"], IDEMPOTENCE[v["enable_idempotence"]])
    return _experiment([prod], schedule, rate_per_s, duration_s, seed, min_insync_replicas)[0]


def compare(
    *,
    schedule: str | Sequence[Fault] = "frozen-followers",
    rate_per_s: float = 100.0,
    duration_s: float = 10.0,
    seed: int = 0,
    min_insync_replicas: int = 2,
) -> dict[str, Result]:
    """Both producer settings at once, under the very same faults: two topics whose only
    partition has the same replicas in the same order (so the same leader), one producer
    each -- ``acks=1`` without idempotence and ``acks='all'`` with it -- sending the same
    numbered values at the same instants. Returns ``{"acks=1": ..., "acks=all": ...}``."""
    check_call(**locals())  # ranges and defaults: labs/experiments/durability.py
    prods = [producer_settings(1), producer_settings("all")]
    results = _experiment(prods, schedule, rate_per_s, duration_s, seed, min_insync_replicas)
    return {f"acks={r.settings['acks']}": r for r in results}


@progress.task("durability lab on the 3-broker cluster")
def _experiment(prods, schedule, rate_per_s, duration_s, seed, min_isr) -> list[Result]:
    n = check_run(rate_per_s, duration_s)
    faults = schedule_of(schedule)
    was_running = {node.name for node in cluster.nodes() if node.pid() is not None}
    everything = len(was_running) == len(cluster.nodes())
    topics = [f"{KAFKA_PREFIX}durability-{uuid.uuid4().hex[:8]}" for _ in prods]
    came_up = False
    try:
        if everything:
            _heal()  # a broker an interrupted earlier run left frozen
            _recover([], time.monotonic() + RECOVER_TIMEOUT_S)
        else:
            cluster.up()
        came_up = True
        return _run(topics, prods, faults, n, rate_per_s, duration_s, seed, min_isr)
    finally:
        if came_up:
            _delete_topics(topics)
        for node in reversed(cluster.nodes()):  # stop what this run started
            if node.name not in was_running:
                cluster.stop(node.name)


def _heal(ids: set[int] | None = None) -> None:
    """Thaw a frozen broker, start one whose process is gone (of node ``ids``, default all)."""
    for node in cluster.brokers():
        if ids is not None and node.node_id not in ids:
            continue
        with contextlib.suppress(StackError):
            state = node.state()
            if state == "frozen":
                cluster.thaw(node.name)
            elif state == "stopped":
                cluster.start(node.name)


@dataclass
class _Lane:
    """One producer setting: its topic, its producer and what happened to each send."""

    topic: str
    prod: dict
    n: int
    producer: KafkaProducer | None = None
    errors: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.send_t = np.full(self.n, np.nan)
        self.ack_t = np.full(self.n, np.nan)
        self.outcome = np.full(self.n, UNKNOWN, np.int8)

    def open(self) -> None:
        self.producer = KafkaProducer(
            bootstrap_servers=cluster.bootstrap_servers(),
            acks=self.prod["acks"],
            enable_idempotence=self.prod["enable_idempotence"],
            linger_ms=5,
            request_timeout_ms=REQUEST_TIMEOUT_MS,
            delivery_timeout_ms=DELIVERY_TIMEOUT_MS,
            max_block_ms=MAX_BLOCK_MS,
            retry_backoff_ms=100,
            reconnect_backoff_max_ms=500,
            metadata_max_age_ms=5000,
        )
        self.producer.partitions_for(self.topic)  # metadata before the clock starts

    def send(self, i: int, key: int, t0: float) -> None:
        self.send_t[i] = time.monotonic() - t0
        try:
            fut = self.producer.send(self.topic, key=b"k%d" % key, value=b"%d" % i, partition=0)
        except KafkaTimeoutError:
            self.outcome[i] = FAILED  # never left the client
            self.errors["send() blocked"] = self.errors.get("send() blocked", 0) + 1
            return
        fut.add_callback(self._ok, i, t0)
        fut.add_errback(self._error, i)

    def _ok(self, i: int, t0: float, _meta) -> None:
        self.outcome[i] = OK
        self.ack_t[i] = time.monotonic() - t0

    def _error(self, i: int, exc: BaseException) -> None:
        self.outcome[i] = UNKNOWN if isinstance(exc, _INDEFINITE) else FAILED
        name = type(exc).__name__
        self.errors[name] = self.errors.get(name, 0) + 1

    def close(self) -> None:
        if self.producer is None:
            return
        with contextlib.suppress(KafkaTimeoutError):  # what did not finish stays UNKNOWN
            self.producer.flush(timeout=DELIVERY_TIMEOUT_MS / 1000 + 2)
        self.producer.close(timeout=2)
        self.producer = None


def _run(topics, prods, faults, n, rate_per_s, duration_s, seed, min_isr) -> list[Result]:
    leader = _create_topics(topics, min_isr)
    keys = key_sequence(n, seed)
    lanes = [_Lane(topic, prod, n) for topic, prod in zip(topics, prods, strict=True)]
    try:
        for lane in lanes:
            lane.open()
        log = _FaultLog(time.monotonic())
        watcher = _Faults(topics[0], faults, log, leader)
        t0 = log.clock_t0
        watcher.start()
        try:
            with progress.task("sending (faults on schedule)", total=n, unit="msg") as sent:
                for i in range(n):
                    delay = t0 + i / rate_per_s - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    if time.monotonic() - t0 >= duration_s + 1.0:
                        break  # send() blocked too long: stop at the bounded time
                    for lane in lanes:
                        lane.send(i, keys[i], t0)
                    sent.set(i + 1)
            for lane in lanes:
                lane.close()
            # Let the schedule finish, its last actions too: a restart-all due as the sends
            # end raced _heal below into a second JVM of the killed broker (issue 12).
            last = max((f.end_s or f.start_s for f in faults), default=0.0)
            if not watcher.done.wait(max(0.0, last - (time.monotonic() - t0)) + SCHEDULE_SLACK_S):
                raise ClusterBroken(f"the fault schedule did not finish; {RESTART_HINT}")
            if watcher.error is None:  # the watcher notes the new leader meanwhile
                t_recover = time.monotonic()
                _heal(watcher.frozen | watcher.killed)  # a schedule without a restart
                _recover(topics, time.monotonic() + RECOVER_TIMEOUT_S)
                recovered_s = time.monotonic() - t_recover
        finally:  # on an error the schedule stops at once and undoes what it did
            watcher.stop_event.set()
            watcher.join(10)
            _heal(watcher.frozen | watcher.killed)
        if watcher.error is not None:
            raise watcher.error
    finally:
        for lane in lanes:
            lane.close()
    log.add(f"all brokers back, partition 0 fully in sync ({_isr(topics[0])})")
    entries = sorted(log.entries)
    common = {
        "faults": faults,
        "keys": keys,
        "t0": t0,
        "entries": entries,
        "recovered_s": recovered_s,
        "params": {"rate_per_s": rate_per_s, "duration_s": duration_s},
        "seed": seed,
        "min_isr": min_isr,
    }
    return [_result(lane, **common) for lane in lanes]


def _result(lane, *, faults, keys, t0, entries, recovered_s, params, seed, min_isr) -> Result:
    ids, end_offset, t_drain = _drain(lane.topic, t0)
    n = lane.n
    keep = np.nonzero(~np.isnan(lane.send_t))[0]
    # Messages never sent (the loop stopped at its time bound) are left out.
    remap = np.full(n, -1)
    remap[keep] = np.arange(keep.size)
    drained = remap[ids[(ids >= 0) & (ids < n)]]
    drained = drained[drained >= 0]
    history = History(
        keys=keys[keep],
        publish_time=lane.send_t[keep],
        outcome=lane.outcome[keep],
        partition=np.zeros(keep.size, np.int32),
        readers=(ReaderHistory("drain", drained, np.full(drained.size, t_drain)),),
        end_time=t_drain,
    )
    acked = np.isfinite(lane.ack_t)
    metrics: dict = {
        "sent": int(keep.size),
        "failed": int((history.outcome == FAILED).sum()),
        "ack_time_max_s": float(np.max(lane.ack_t[acked] - lane.send_t[acked], initial=0.0)),
        "recovery_s": round(recovered_s, 2),
        "log_end_offset": end_offset,
    }
    for k, v in sorted(lane.errors.items()):
        metrics[f"errors {k}"] = v
    for i, (t, what) in enumerate(entries, 1):
        metrics[f"fault {i}: {what} at (s)"] = round(t, 3)
    prod = lane.prod
    return Result.from_history(
        f"durability acks={prod['acks']} {_schedule_name(faults)}",
        SOURCE,
        history,
        seed=seed,
        params={
            **params,
            "topic": lane.topic,
            "schedule": [asdict(f) for f in faults],
            "fault_log": [(round(t, 3), what) for t, what in entries],
        },
        settings=settings_of(
            prod["acks"],
            prod["enable_idempotence"],
            min_isr,
            replica_lag_time_max_ms=cluster.REPLICA_LAG_TIME_MAX_MS,
            broker_session_timeout_ms=cluster.BROKER_SESSION_TIMEOUT_MS,
        ),
        series={"ack_delay": ack_delay(lane.send_t[keep], lane.ack_t[keep])},
        metrics=metrics,
    )


def _schedule_name(faults: tuple[Fault, ...]) -> str:
    return next((name for name, s in SCHEDULES.items() if tuple(s) == faults), "custom schedule")


def _create_topics(topics: list[str], min_isr: int) -> int:
    """Create the topics: one partition each, on brokers 1, 2, 3 in the same order, so they
    share their leader. Wait until every ISR is full; return the leader."""
    admin = cluster._admin(5.0)
    order = list(cluster.BROKER_IDS)
    try:
        admin.create_topics(
            [
                NewTopic(
                    topic,
                    num_partitions=-1,
                    replication_factor=-1,
                    replica_assignments={0: order},
                    topic_configs={
                        "min.insync.replicas": str(min_isr),
                        "unclean.leader.election.enable": "false",
                    },
                )
                for topic in topics
            ],
            timeout_ms=10_000,
        )
    finally:
        admin.close()
    _recover(topics, time.monotonic() + 20)
    return order[0]


def _isr(topic: str) -> str:
    (p,) = cluster.describe(topic, timeout_s=2.0)
    return f"leader broker-{p.leader}, isr {list(p.isr)}"


@progress.task("waiting for every broker to be back and each partition in sync")
def _recover(topics: list[str], deadline: float) -> None:
    """Wait until all three brokers are registered and listen (a broker killed a moment ago
    is listed until fenced) and each topic's ISR is full. A node that exits or stops meanwhile
    ends the wait at once: :class:`ClusterBroken` names it."""
    timeout_s = deadline - time.monotonic()
    while len(cluster.live_brokers(2.0)) < len(cluster.BROKER_IDS) or not all(
        port_open(config.HOST, b.port, 0.5) for b in cluster.brokers()
    ):
        _check_nodes()
        if time.monotonic() > deadline:
            raise ClusterBroken(
                f"not every broker of the cluster registered within {timeout_s:.0f} s "
                f"(registered: {cluster.live_brokers(2.0)}); {RESTART_HINT}"
            )
        time.sleep(POLL_S)
    for topic in topics:
        last = "not described yet"
        while True:
            _check_nodes()
            try:
                (p,) = cluster.describe(topic, timeout_s=2.0)
                if p.leader >= 0 and len(p.isr) == cluster.REPLICATION_FACTOR:
                    break
                last = p.line()
            except Exception as exc:  # noqa: BLE001 - still electing, or not known yet
                last = f"{type(exc).__name__}: {exc}"
            if time.monotonic() > deadline:
                logs = config.stack_dir() / "cluster"
                raise ClusterBroken(
                    f"partition 0 of {topic} has no full ISR within {timeout_s:.0f} s "
                    f"({last}; registered brokers {cluster.live_brokers(2.0)}; nodes' logs in "
                    f"{logs}); {RESTART_HINT}"
                )
            time.sleep(POLL_S)


def _check_nodes() -> None:
    """Raise :class:`ClusterBroken` if a node of the cluster is not running."""
    for node in cluster.nodes():
        state = node.state()
        if state != "running":
            what = "has exited" if state == "stopped" else "is frozen (SIGSTOP)"
            raise ClusterBroken(
                f"{node.name} of the durability cluster {what} while the lab waited for the "
                f"cluster to recover (not by the lab's fault schedule); its log: "
                f"{node.log_file}; {RESTART_HINT}"
            )


def _drain(topic: str, t0: float) -> tuple[np.ndarray, int, float]:
    """Read the whole partition; return the message ids in offset order, the end offset and
    the drain time."""
    consumer = KafkaConsumer(
        bootstrap_servers=cluster.bootstrap_servers(),
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=5000,
        fetch_max_wait_ms=100,
    )
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        ids: list[int] = []
        deadline = time.monotonic() + 30
        while consumer.position(tp) < end:
            if time.monotonic() > deadline:
                raise StackError(f"drain of {topic} did not reach offset {end} in 30 s")
            for batch in consumer.poll(timeout_ms=200).values():
                ids.extend(int(r.value) for r in batch)
    finally:
        consumer.close()
    return np.array(ids, np.int64), int(end), time.monotonic() - t0


def _delete_topics(topics: list[str]) -> None:
    try:
        admin = cluster._admin(3.0)
        try:
            admin.delete_topics(topics, timeout_ms=3000)
        finally:
            admin.close()
    except Exception:  # noqa: BLE001 - best effort: the topics have unique names
        pass

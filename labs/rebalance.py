"""Rebalance pause: how long partitions have no owner when a member joins or leaves.

A topic of ``partitions`` partitions receives ``rate_per_s`` messages per second, dealt to
the partitions in turn. A consumer group of ``members`` members reads it with the rebalance
``protocol``:

- ``eager`` -- kafka-python, range assignor (the classic protocol: every member revokes
  everything, then the new assignment arrives);
- ``cooperative`` -- kafka-python, ``cooperative-sticky`` assignor (KIP-429: only the
  partitions that move are revoked, in a first round, and assigned in a second);
- ``consumer`` -- confluent-kafka (librdkafka) with ``group.protocol=consumer`` (KIP-848,
  Kafka 4's broker-side protocol: the broker computes the assignment, members learn their
  part at their heartbeats).

Once the group is stable, one member joins (``event="join"``), the last one leaves
(``"leave"``: it commits and closes, which tells the coordinator at once) or the last one
restarts (``"restart"``: it leaves so, and a new consumer in its place joins at once, as in a
rolling deploy). With ``static`` every member has a ``group.instance.id`` (KIP-345, the
classic protocols): a static member does not leave the group when it closes, and one that
comes back with the same id within ``session.timeout.ms`` gets its partitions back without a
rebalance; at the end of the run the lab removes the static members (an admin
``LeaveGroup``), since they would stay until their session timeout. The lab waits
until the group is balanced again and quiet, then measures, per partition, every span it
had no owner after the event: from its revocation (the old owner's ``on_partitions_revoked``
callback, or the leaver's close) to its assignment (the new owner's
``on_partitions_assigned`` callback; spans that end once the members are told to stop, at the
end of the run, are not counted). Metrics: ``unowned_spans`` (how many),
``unowned_partition_s`` (their total), ``max_unowned_s`` (the longest), ``stopped_partitions``
(distinct partitions that stopped), ``kept_partitions`` (partitions with the same member
before the event and once the group settled: the ones that did not move; a restarted member
counts as the same member) and
``kept_unowned_partition_s`` (the partition-seconds those stopped all the same: the pause that
bought nothing, which only ``eager`` has), ``reowned_s`` (event -> the last of them owned again),
``others_callbacks`` (revoke and assign callbacks with partitions, between the event and the
group settled, of the members that did not join, leave or restart: 0 when the change did not
rebalance them),
``round_ms`` -- the median span of the rebalances that formed the group before the event
(one member joining at a time, each less the time the process was stalled in it): what the
simulator's ``rebalance_ms`` is calibrated with -- and ``stalled_s``: how long this process
could not run between the event and the last partition owned again (:mod:`labs.stalls`; 0 on
a quiet machine).

Every member processes what it polls, ``process_ms`` per record (a sleep, then the record's
completion time is recorded), at most ``max_poll_records`` records per poll (kafka-python's
``max_poll_records``, confluent-kafka's ``consume(num_messages=...)``), and commits
synchronously after every poll batch and on revocation; the reader is ``group:members``.
Processing time is what makes a rebalance cost in production: a member takes part in a
rebalance only at its next poll, after its current batch. Under ``eager`` a member that
finished its batch has revoked everything and waits for the others' batches, so partitions
that do not move stop for up to a batch's processing time (``kept_unowned_partition_s``);
``cooperative`` and ``consumer`` never stop them. The moved partitions wait too: kafka-python
3.0.12's cooperative second round starts at each member's next poll after the first (one more
batch), and the consumer protocol's at the heartbeats -- so their *total* partition-seconds
need not be below eager's on one local broker (measured: lesson 16).
"""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from dataclasses import dataclass, field

import sim.progress as progress
from labs.clients import WaitTimeout, endpoints, subscribe_known
from labs.experiments.rebalance import REBALANCE
from labs.naming import Scratch, scratch
from labs.recording import Clock, ReaderLog, Sends
from labs.stalls import StallMeter
from labs.workload import message_id, payload
from sim.analysis.result import Result

SOURCE = "kafka"
#: The client's heartbeat interval for the classic protocol (``eager``, ``cooperative``):
#: how soon a member notices that a rebalance began.
CLASSIC_HEARTBEAT_MS = 100
#: The group is stable when it is balanced and no callback ran for this long.
QUIET_S = 1.0
#: ... and it must get there within this long after a join or leave.
SETTLE_TIMEOUT_S = 40.0
#: After the last send, the members get this long to read everything -- counted from their
#: last progress (with ``process_ms`` a backlog takes a while), and never more than
#: ``DRAIN_CAP_S`` in all.
DRAIN_TIMEOUT_S = 5.0
DRAIN_CAP_S = 15.0


@dataclass
class Ownership:
    """The revoke and assign callbacks of every member, on the run clock (thread-safe)."""

    clock: Clock
    events: list[tuple[float, int, str, tuple[int, ...]]] = field(default_factory=list)
    owner: dict[int, int] = field(default_factory=dict)
    last: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, member: int, what: str, parts) -> None:
        t = self.clock.now()
        with self._lock:
            ps = tuple(sorted(int(p) for p in parts))
            self.events.append((t, member, what, ps))
            for p in ps:
                if what == "assigned":
                    self.owner[p] = member
                elif self.owner.get(p) == member:
                    del self.owner[p]
            self.last = t

    def balanced(self, partitions: int, members: set[int]) -> bool:
        with self._lock:
            if len(self.owner) != partitions or set(self.owner.values()) - members:
                return False
            counts = [list(self.owner.values()).count(m) for m in members]
            return max(counts) - min(counts) <= 1 and self.clock.now() - self.last >= QUIET_S

    def owners(self) -> dict[int, int]:
        """Partition -> its member now."""
        with self._lock:
            return dict(self.owner)

    def spans(self, after: float, before: float = float("inf")) -> list[tuple[int, float, float]]:
        """``(partition, from, to)`` of every span without an owner that began at or after
        ``after`` and ended by ``before`` (the callbacks replayed from the start)."""
        owner: dict[int, int] = {}
        since: dict[int, float] = {}
        out = []
        with self._lock:
            events = list(self.events)
        for t, member, what, parts in events:
            for p in parts:
                if what == "revoked" and owner.get(p) == member:
                    del owner[p]
                    since[p] = t
                elif what == "assigned":
                    if p not in owner and p in since and since[p] >= after and t <= before:
                        out.append((p, since[p], t))
                    since.pop(p, None)
                    owner[p] = member
        return out


class Member(threading.Thread):
    """One group member polling in its own thread until told to stop (then it commits and
    closes its consumer)."""

    def __init__(
        self, index: int, s: Scratch, topic: str, group: str, protocol: str,
        log: ReaderLog, own: Ownership, clock: Clock, static: bool = False,
        process_ms: float = 0.0, max_poll_records: int = 500,
    ) -> None:  # fmt: skip
        super().__init__(name=f"member-{index}", daemon=True)
        self.index, self.topic, self.group, self.protocol = index, topic, group, protocol
        self.instance_id = instance_id(group, index) if static else None
        self.log, self.own, self.clock = log, own, clock
        self.process_s, self.max_poll_records = process_ms / 1000.0, max_poll_records
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.consumer = self._consumer(s)

    def _consumer(self, s: Scratch):
        if self.protocol == "consumer":
            from confluent_kafka import Consumer

            c = Consumer(
                {
                    "bootstrap.servers": endpoints().kafka_bootstrap_servers,
                    "group.id": self.group,
                    "group.protocol": "consumer",
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                    "fetch.wait.max.ms": 100,
                }
            )
            return s.track(c)
        from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
        from kafka.coordinator.assignors.range import RangePartitionAssignor

        strategy = (
            CooperativeStickyAssignor if self.protocol == "cooperative" else RangePartitionAssignor
        )
        return s.consumer(
            group_id=self.group,
            group_instance_id=self.instance_id,
            partition_assignment_strategy=[strategy],
            heartbeat_interval_ms=CLASSIC_HEARTBEAT_MS,
            max_poll_records=self.max_poll_records,
        )

    def process(self, mid: int) -> None:
        """Process one record: ``process_ms`` of work (a sleep), then record its completion."""
        if self.process_s > 0:
            time.sleep(self.process_s)
        self.log.processed(mid, self.clock.now())

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # noqa: BLE001 - re-raised by the lab
            self.error = exc

    def _run(self) -> None:
        c, me, own = self.consumer, self.index, self.own
        if self.protocol == "consumer":

            def on_assign(consumer, parts):
                own.record(me, "assigned", [tp.partition for tp in parts])

            def on_revoke(consumer, parts):
                with contextlib.suppress(Exception):
                    consumer.commit(asynchronous=False)
                own.record(me, "revoked", [tp.partition for tp in parts])

            c.subscribe([self.topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
            while not self.stop.is_set():
                msgs = c.consume(num_messages=self.max_poll_records, timeout=0.05)
                done = [m for m in msgs if m.error() is None]
                for m in done:
                    self.process(message_id(m.value()))
                if done:
                    with contextlib.suppress(Exception):
                        c.commit(asynchronous=False)
            with contextlib.suppress(Exception):
                c.commit(asynchronous=False)
            own.record(me, "revoked", [tp.partition for tp in c.assignment()])
            c.close()
            return
        from kafka import AsyncConsumerRebalanceListener
        from kafka.errors import KafkaError

        class Listener(AsyncConsumerRebalanceListener):
            # (runs on kafka-python's IO loop: no blocking call here. Every poll batch is
            # committed before the next poll, inside which a revocation happens.)
            async def on_partitions_revoked(self, revoked):
                own.record(me, "revoked", [tp.partition for tp in revoked])

            async def on_partitions_assigned(self, assigned):
                own.record(me, "assigned", [tp.partition for tp in assigned])

        subscribe_known(c, [self.topic], listener=Listener())
        while not self.stop.is_set():
            batches = c.poll(timeout_ms=50)
            for records in batches.values():
                for r in records:
                    self.process(message_id(r.value))
            if batches:
                with contextlib.suppress(KafkaError):
                    c.commit()
        with contextlib.suppress(KafkaError):
            c.commit()
        own.record(me, "revoked", [tp.partition for tp in c.assignment()])
        c.close()


@progress.task("rebalance lab on the real brokers")
def run_rebalance(
    *,
    protocol: str = "eager",
    event: str = "join",
    partitions: int = 6,
    members: int = 2,
    rate_per_s: int = 100,
    after_s: float = 1.0,
    static: bool = False,
    process_ms: float = 0.0,
    max_poll_records: int = 500,
    seed: int = 0,
) -> Result:
    """Run the rebalance lab; see the module docstring."""
    REBALANCE.check(locals())  # ranges and defaults: labs/experiments/rebalance.py
    if static and protocol == "consumer":
        raise ValueError(
            '"static" needs protocol "eager" or "cooperative" (the lab removes static members '
            'with a classic LeaveGroup), got protocol "consumer".'
        )
    params = dict(
        protocol=protocol,
        event=event,
        partitions=partitions,
        members=members,
        rate_per_s=rate_per_s,
        after_s=after_s,
        static=static,
        process_ms=process_ms,
        max_poll_records=max_poll_records,
    )
    clock = Clock()
    own = Ownership(clock)
    log = ReaderLog("group:members")
    sends = Sends()
    threads: list[Member] = []
    with scratch("rebalance") as s, StallMeter(clock) as meter:
        topic = s.topic("events", partitions=partitions)
        group = s.group("members")
        prod = s.producer(acks=1, enable_idempotence=False)
        stop_sending = threading.Event()

        def send_steadily() -> None:
            i = 0
            while not stop_sending.is_set():
                t = clock.now()
                sends.add_kafka(
                    i % partitions, t, prod.send(topic, value=payload(i), partition=i % partitions)
                )
                i += 1
                time.sleep(max(0.0, i / rate_per_s - clock.now()))

        sender = threading.Thread(target=send_steadily, name="sender", daemon=True)

        def start(index: int) -> Member:
            m = Member(
                index, s, topic, group, protocol, log, own, clock, static,
                process_ms, max_poll_records,
            )  # fmt: skip
            threads.append(m)
            m.start()
            return m

        def settle(live: set[int], what: str) -> None:
            deadline = time.monotonic() + SETTLE_TIMEOUT_S
            while not own.balanced(partitions, live):
                for m in threads:
                    if m.error is not None:
                        raise m.error
                if time.monotonic() > deadline:
                    raise WaitTimeout(
                        f"the group did not settle within {SETTLE_TIMEOUT_S:.0f} s {what} "
                        f"(owners {own.owner}); is the broker overloaded?"
                    )
                time.sleep(0.05)

        try:
            sender.start()
            for i in range(members):
                start(i)
                settle(set(range(i + 1)), f"after member {i} joined")
            t_event, owners_before = clock.now(), own.owners()
            if event == "join":
                start(members)
                live = set(range(members + 1))
            else:
                threads[-1].stop.set()
                threads[-1].join(10.0)
                live = set(range(members - 1))
                if event == "restart":
                    start(members - 1)
                    live = set(range(members))
            settle(live, f"after the {event}")
            t_settled, owners_after = clock.now(), own.owners()
            time.sleep(after_s)
            stop_sending.set()
            sender.join(5.0)
            prod.flush(timeout=5)
            drain_started, read = time.monotonic(), log.distinct()
            drained = drain_started + DRAIN_TIMEOUT_S  # the members read what was sent
            while read < len(sends) and time.monotonic() < drained:
                time.sleep(0.05)
                if log.distinct() > read:  # progress: wait on, within the cap
                    read = log.distinct()
                    drained = min(time.monotonic() + DRAIN_TIMEOUT_S, drain_started + DRAIN_CAP_S)
        finally:
            stop_sending.set()
            sender.join(5.0)
            t_stop = clock.now()  # (the members' closing hands partitions over: not counted)
            for m in threads:
                m.stop.set()
            for m in threads:
                m.join(10.0)
            if static:
                remove_static_members(s, group, members + (event == "join"))
        sends.settle(prod, timeout_s=5)
        end = clock.now()
    for m in threads:
        if m.error is not None:
            raise m.error
    spans = own.spans(t_event, t_stop)
    kept = {p for p, m in owners_before.items() if owners_after.get(p) == m}
    # The formation rebalances, less what the process was stalled meanwhile: the round of a
    # machine that gives the lab its CPU (the twin widens its tolerance by the event's stalls).
    rounds = [
        max(0.0, b - a - meter.stalled_between(a, b)) for _, a, b in own.spans(0.0) if b <= t_event
    ]
    lengths = [b - a for _, a, b in spans]
    changed = members if event == "join" else members - 1  # who joined, left or restarted
    others = sum(
        1 for t, who, _, ps in own.events if t_event < t <= t_settled and who != changed and ps
    )
    reowned_s = max((b for _, _, b in spans), default=t_event) - t_event
    metrics = {
        "event_s": t_event,
        "unowned_spans": len(spans),
        "unowned_partition_s": float(sum(lengths)),
        "max_unowned_s": float(max(lengths, default=0.0)),
        "stopped_partitions": len({p for p, _, _ in spans}),
        "kept_partitions": len(kept),
        "kept_unowned_partition_s": float(sum(b - a for p, a, b in spans if p in kept)),
        "reowned_s": reowned_s,
        "round_ms": 1000 * statistics.median(rounds) if rounds else float("nan"),
        "stalled_s": meter.stalled_between(t_event, t_event + reowned_s),
        "callbacks": len(own.events),
        "others_callbacks": others,
    }
    history = sends.history([log.history()], end_time=end)
    return Result.from_history(
        "rebalance",
        SOURCE,
        history,
        seed=seed,
        params=params,
        settings={
            "run_id": s.run_id,
            "client": "confluent-kafka" if protocol == "consumer" else "kafka-python",
            "group.protocol": "consumer" if protocol == "consumer" else "classic",
            "assignor": {"eager": "range", "cooperative": "cooperative-sticky"}.get(
                protocol, "broker-side (uniform)"
            ),
            "heartbeat_interval_ms": (
                "broker's group.consumer.heartbeat.interval.ms"
                if protocol == "consumer"
                else CLASSIC_HEARTBEAT_MS
            ),
            "group.instance.id": "per member" if static else "none (dynamic members)",
            "spans": [(p, round(a, 3), round(b, 3)) for p, a, b in spans],
        },
        metrics=metrics,
    )


def instance_id(group: str, index: int) -> str:
    """The ``group.instance.id`` of member ``index`` (its restarts keep it)."""
    return f"{group}-member-{index}"


def remove_static_members(s: Scratch, group: str, count: int) -> None:
    """Remove the static members ``0 .. count-1`` from ``group`` (they do not leave on close,
    and the run's cleanup deletes only an empty group)."""
    from kafka.admin import MemberToRemove

    members = [MemberToRemove(group_instance_id=instance_id(group, i)) for i in range(count)]
    with contextlib.suppress(Exception):  # best effort: the cleanup retries the deletion
        s.admin.remove_group_members(group, members)


__all__ = ["run_rebalance"]

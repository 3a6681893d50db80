"""Ordering: per-key order with a stable key, no global order, and what a rebalance does.

``messages`` account events (key = accountId, ``num_keys`` accounts) are written to a topic
with ``partitions`` partitions. The key decides the partition, and a partition is an ordered
log, so every account's events stay in order -- but nothing orders events of different
partitions.

- ``group:stable-key`` -- one consumer reads the topic: per-key order holds (``reordered``
  is 0) while the global order is broken (``global_inversions`` > 0 with more than one
  partition: messages processed after a later-sent one).
- ``group:rebalance`` -- consumer A processes at ``service_rate_per_s`` and commits every
  ``commit_every`` messages; at ``rebalance_at_s`` consumer B joins the group and the
  partitions are split between them. Per-key order of first deliveries still holds (a
  partition has one assigned owner per generation, and A stops at the revocation; a member
  that stalls past ``max.poll.interval.ms`` keeps processing its fetched batch as a zombie:
  ``sim.models.zombie``), but partitions A had processed past its last commit
  are read again by their new owner: duplicates, and each one a key seeing an *older*
  event again after a newer one (``key_regressions``). With ``commit_on_revoke`` A commits
  in its rebalance listener before giving the partitions up, and the duplicates disappear.
  B's join must land while A is still busy, however slowly a loaded machine lets B start
  (a workshop of learners on two cores): A processes at most :data:`HOLD_AT` of any
  partition's messages before B has its partitions -- per partition, since keys spread them
  unevenly and a small partition A had finished would leave B nothing to do. If it gets
  there first it pauses its partitions and keeps polling -- so it still takes part in the
  rebalance -- until B's assignment arrives.
"""

from __future__ import annotations

import threading

import numpy as np
from kafka import AsyncConsumerRebalanceListener, OffsetAndMetadata, TopicPartition

import sim.progress as progress
from labs.clients import (
    WaitTimeout,
    commit_offsets,
    poll_until_assigned,
    sleep_until,
    subscribe_known,
    wait_until,
)
from labs.consume import end_offsets, read_as_group, topic_partitions
from labs.experiments.ordering import ORDERING, workload
from labs.naming import Scratch, scratch
from labs.recording import Clock, LabThread, ReaderLog, Sends, global_inversions, join_all
from labs.workload import draw, message_id, payload
from sim.analysis.result import Result
from sim.core.history import OK
from sim.models.partitioner import key_bytes

SOURCE = "kafka"
#: The share of the messages A may process before B has joined (see the module docstring).
HOLD_AT = 0.75
#: How long A holds at most for B's assignment (then the lab fails with a clear error).
HOLD_TIMEOUT_S = 30.0
#: Producer batches and the members' fetches are kept small (bytes; a record here is about
#: a dozen bytes, so 15-20 records). With the defaults, one fetch carries every partition's
#: whole backlog and ``poll`` hands A the partitions one after another: by the time B joins
#: A may have finished B's partitions and committed them, and B gets no work. Small fetches
#: make A progress on every partition at once, as a consumer of a busy topic does.
BATCH_BYTES = 256


@progress.task("ordering lab on the real brokers")
def run_ordering(
    *,
    messages: int = 600,
    partitions: int = 4,
    num_keys: int = 20,
    service_rate_per_s: float = 300.0,
    rebalance_at_s: float = 0.3,
    commit_every: int = 50,
    commit_on_revoke: bool = False,
    seed: int = 0,
) -> Result:
    """Run the ordering lab; see the module docstring."""
    ORDERING.check(locals())  # ranges and defaults: labs/experiments/ordering.py
    if not isinstance(commit_on_revoke, bool):
        raise ValueError(f'"commit_on_revoke" must be true or false, got {commit_on_revoke!r}.')
    params = dict(
        messages=messages,
        partitions=partitions,
        num_keys=num_keys,
        service_rate_per_s=service_rate_per_s,
        rebalance_at_s=rebalance_at_s,
        commit_every=commit_every,
        commit_on_revoke=commit_on_revoke,
    )
    key_seq = draw(workload(**params), seed).keys

    with scratch("order", redis_needed=False) as s:
        clock = Clock()
        topic = s.topic("accounts", partitions=partitions)
        tps = topic_partitions(topic, partitions)
        producer = s.producer(
            acks="all", enable_idempotence=True, linger_ms=5, batch_size=BATCH_BYTES
        )
        sends = Sends()
        for i, k in enumerate(key_seq):
            sends.add_kafka(
                int(k), clock.now(), producer.send(topic, key=key_bytes(k), value=payload(i))
            )
        sends.settle(producer, timeout_s=10)
        acked = int((sends.array("outcome") == OK).sum())
        probe = s.consumer()
        ends = end_offsets(probe, tps)
        probe.close()

        stable = ReaderLog("group:stable-key")
        group = s.group("stable-key")
        read_as_group(lambda t: s.consumer(t, group_id=group), topic, stable, clock, ends)

        rebalance = _rebalance(
            s,
            topic,
            clock,
            acked,
            ends,
            service_rate_per_s,
            rebalance_at_s,
            commit_every,
            commit_on_revoke,
        )
        end = clock.now()

    n = len(sends)
    keys_arr = sends.array("keys")
    history = sends.history(
        [
            stable.history(available=np.ones(n, bool)),
            rebalance["log"].history(available=np.ones(n, bool)),
        ],
        end_time=end,
    )
    reb_hist = history.reader("group:rebalance")
    return Result.from_history(
        "ordering",
        SOURCE,
        history,
        seed=seed,
        params=params,
        settings={
            "run_id": s.run_id,
            "kafka.partitions": partitions,
            "kafka.partitioner": "default (murmur2 of the accountId key)",
            "kafka.acks": "all",
            "kafka.enable_idempotence": True,
            "group:rebalance commit": f"after processing, every {commit_every} messages"
            + (", and on partition revocation" if commit_on_revoke else ""),
            "group:rebalance assignor": "range (eager: all partitions revoked on rebalance)",
        },
        metrics={
            "global_inversions:group:stable-key": global_inversions(
                history.reader("group:stable-key").ids.tolist()
            ),
            "global_inversions:group:rebalance": global_inversions(reb_hist.ids.tolist()),
            "key_regressions:group:rebalance": _key_regressions(keys_arr, reb_hist.ids),
            "rebalances:group:rebalance": rebalance["rebalances"],
            "uncommitted_at_revoke:group:rebalance": rebalance["uncommitted_moved"],
            "processed_by_a:group:rebalance": rebalance["by_a"],
            "processed_by_b:group:rebalance": rebalance["by_b"],
            "a_held_for_b_s:group:rebalance": rebalance["held_s"],
        },
    )


def _key_regressions(keys_arr: np.ndarray, ids: np.ndarray) -> int:
    """Processings (redeliveries included) of an event older than one already processed."""
    latest: dict[int, int] = {}
    count = 0
    for i in ids.tolist():
        k = int(keys_arr[i])
        if i < latest.get(k, -1):
            count += 1
        latest[k] = max(latest.get(k, -1), i)
    return count


class _Listener(AsyncConsumerRebalanceListener):
    """kafka-python 3 runs rebalance listeners on its IO loop: commit with the async call."""

    def __init__(self, member) -> None:
        self.member = member

    async def on_partitions_revoked(self, revoked) -> None:
        m = self.member
        if m.commit_on_revoke and m.processed:
            offsets = {tp: OffsetAndMetadata(o, "", -1) for tp, o in m.processed.items()}
            await m.consumer._coordinator._commit_offsets_sync_async(offsets, 5000)
            m.committed.update(m.processed)
            m.processed = {}
        m.revoked(revoked)

    async def on_partitions_assigned(self, assigned) -> None:
        self.member.assigned(assigned)


class _Member:
    """One consumer of ``group:rebalance``: paced processing, commits every N messages."""

    def __init__(
        self,
        name,
        s: Scratch,
        topic,
        group,
        log,
        clock,
        rate,
        commit_every,
        commit_on_revoke,
        shared,
    ) -> None:
        self.name, self.s, self.topic, self.group = name, s, topic, group
        self.log, self.clock, self.per_msg = log, clock, 1.0 / rate
        self.commit_every, self.commit_on_revoke, self.shared = (
            commit_every,
            commit_on_revoke,
            shared,
        )
        self.processed: dict = {}  # processed, not yet committed: tp -> next offset
        self.committed: dict = {}
        self.count = 0
        self.consumer = None

    def revoked(self, revoked) -> None:
        with self.shared["lock"]:
            if self.name == "A" and revoked and not self.shared["stopping"]:
                self.shared["rebalances"] += 1
                for tp in revoked:  # processed past the last commit when giving it up
                    ahead = self.processed.get(tp, 0) - self.committed.get(tp, 0)
                    self.shared["pending_revoked"].setdefault(tp, max(0, ahead))
        self.processed = {tp: o for tp, o in self.processed.items() if tp not in revoked}

    def assigned(self, assigned) -> None:
        with self.shared["lock"]:
            if self.name == "B" and self.shared["moved"] is None:
                self.shared["moved"] = set(assigned)

    def commit(self) -> None:
        if self.processed and self.consumer is not None:
            commit_offsets(self.consumer, self.processed)
            self.committed.update(self.processed)
            self.processed = {}

    def hold_for_joiner(self, stop: threading.Event) -> None:
        """A only: once a partition is :data:`HOLD_AT` read, pause and poll until B has its
        partitions."""
        shared = self.shared
        if self.name != "A" or shared["moved"] is not None or not self._near_an_end():
            return
        c = self.consumer
        c.pause(*c.assignment())
        held_from = self.clock.now()
        while shared["moved"] is None and not stop.is_set():
            if self.clock.now() - held_from > HOLD_TIMEOUT_S:
                raise WaitTimeout(
                    f"consumer B did not get its partitions within {HOLD_TIMEOUT_S:.0f} s of "
                    "A pausing for it; is the broker overloaded? (python -m labs.stack status)"
                )
            c.poll(timeout_ms=20)  # paused: returns nothing, but takes part in the rebalance
        shared["held_s"] = self.clock.now() - held_from
        c.resume(*c.assignment())

    def _near_an_end(self) -> bool:
        """Has A read :data:`HOLD_AT` of some partition (``shared["ends"]``: end offsets)?"""
        for tp, end in self.shared["ends"].items():
            read = max(self.processed.get(tp, 0), self.committed.get(tp, 0))
            if end and read >= HOLD_AT * end:
                return True
        return False

    def run(self, stop: threading.Event) -> None:
        self.consumer = self.s.consumer(
            group_id=self.group,
            max_poll_records=20,
            heartbeat_interval_ms=200,
            max_partition_fetch_bytes=BATCH_BYTES,
        )
        subscribe_known(self.consumer, [self.topic], listener=_Listener(self))
        records = poll_until_assigned(self.consumer)
        next_free = self.clock.now()
        since_commit = 0
        while not stop.is_set():
            for record in records:
                next_free = max(next_free, self.clock.now()) + self.per_msg
                sleep_until(self.clock.at(next_free))
                self.log.processed(message_id(record.value), self.clock.now())
                self.count += 1
                self.processed[TopicPartition(record.topic, record.partition)] = record.offset + 1
                since_commit += 1
                if since_commit >= self.commit_every:
                    self.commit()
                    since_commit = 0
            self.hold_for_joiner(stop)
            records = [r for b in self.consumer.poll(timeout_ms=20).values() for r in b]
        self.commit()
        self.consumer.close(autocommit=False)


def _rebalance(s, topic, clock, acked, ends, rate, rebalance_at_s, commit_every, commit_on_revoke):
    group = s.group("rebalance")
    log = ReaderLog("group:rebalance")
    shared = {
        "lock": threading.Lock(),
        "rebalances": 0,
        "pending_revoked": {},
        "moved": None,
        "stopping": False,
        "ends": ends,
        "held_s": 0.0,
    }
    a = _Member("A", s, topic, group, log, clock, rate, commit_every, commit_on_revoke, shared)
    b = _Member("B", s, topic, group, log, clock, rate, commit_every, commit_on_revoke, shared)
    stop = threading.Event()
    ta = LabThread("member-A", a.run, stop)
    tb = LabThread("member-B", b.run, stop)
    ta.start()
    try:
        wait_until(lambda: a.count > 0 or ta.error, timeout_s=10, what="member A to start")
        sleep_until(clock.at(clock.now() + rebalance_at_s))
        tb.start()
        wait_until(
            lambda: log.distinct() >= acked or ta.error or tb.error,
            timeout_s=10 + acked / rate,
            what="group:rebalance to process every message",
        )
    finally:
        with shared["lock"]:
            shared["stopping"] = True
        stop.set()
        join_all([t for t in (ta, tb) if t.is_alive() or t.error], timeout_s=10)
    moved = shared["moved"] or set()
    uncommitted = sum(n for tp, n in shared["pending_revoked"].items() if tp in moved)
    return {
        "log": log,
        "rebalances": shared["rebalances"],
        "uncommitted_moved": uncommitted,
        "by_a": a.count,
        "by_b": b.count,
        "held_s": shared["held_s"],
    }

"""Zombie consumer: a member that stalls past ``max.poll.interval.ms`` mid-batch is replaced,
yet finishes its batch when it wakes; only its commit is rejected.

``messages`` events are written to a one-partition topic before anyone reads. The first
member (``max_poll_records = batch``, ``max_poll_interval_ms``) processes records -- a side
effect each, recorded with its time -- and commits after every batch. After
``batches_before`` full batches and ``stall_at`` records of the next one it stalls for
``stall_s`` seconds (a long garbage collection, a slow call): it neither polls nor commits.
A second member joins at that moment; the group waits up to the stalled member's
``max.poll.interval.ms`` for it, removes it and gives the partition to the second member,
which starts from the last committed offset and reads to the end. The stalled member wakes,
does the rest of its batch (side effects that the second member has done or will do as
well: ``zombie_duplicates``), and tries to commit: the broker rejects it (generation
fencing; ``commit_rejected`` and the client's error in ``commit_error``).

Metrics: ``last_committed`` (before the stall), ``takeover_offset`` (the first offset the
second member processed), ``zombie_duplicates``, ``commit_rejected``, ``batch_sizes``
(records per poll of the first member, as the client returned them). Reader:
``group:zombie`` (both members' side effects).
"""

from __future__ import annotations

import threading
import time

from kafka import TopicPartition
from kafka.errors import KafkaError

import sim.progress as progress
from labs.clients import WaitTimeout, commit_offsets, poll_until_assigned
from labs.experiments.zombie import ZOMBIE
from labs.naming import scratch
from labs.recording import Clock, ReaderLog, Sends
from labs.workload import message_id, payload
from sim.analysis.result import Result

SOURCE = "kafka"
#: The second member must reach the end within this long.
TAKEOVER_TIMEOUT_S = 30.0
#: The first member must read up to its stall within this long.
READ_TIMEOUT_S = 30.0


@progress.task("zombie lab on the real brokers")
def run_zombie(
    *,
    messages: int = 200,
    batch: int = 20,
    batches_before: int = 2,
    stall_at: int = 7,
    max_poll_interval_ms: int = 1000,
    stall_s: float = 4.0,
    seed: int = 0,
) -> Result:
    """Run the zombie lab; see the module docstring."""
    ZOMBIE.check(locals())  # ranges and defaults: labs/experiments/zombie.py
    params = dict(
        messages=messages,
        batch=batch,
        batches_before=batches_before,
        stall_at=stall_at,
        max_poll_interval_ms=max_poll_interval_ms,
        stall_s=stall_s,
    )
    k = batches_before * batch + stall_at  # side effects before the stall
    clock = Clock()
    log = ReaderLog("group:zombie")
    sends = Sends()
    state: dict = {"takeover_offset": -1, "error": None}
    with scratch("zombie") as s:
        topic = s.topic("events")
        tp = TopicPartition(topic, 0)
        group = s.group("zombie")
        prod = s.producer()
        for i in range(messages):
            sends.add_kafka(i, clock.now(), prod.send(topic, value=payload(i)))
        sends.settle(prod, timeout_s=10)
        first = s.consumer(
            topic,
            group_id=group,
            max_poll_records=batch,
            max_poll_interval_ms=max_poll_interval_ms,
            heartbeat_interval_ms=100,
        )

        def take_over() -> None:  # the second member: from the last commit to the end
            try:
                second = s.consumer(topic, group_id=group)
                deadline = time.monotonic() + TAKEOVER_TIMEOUT_S
                while True:
                    for records in second.poll(timeout_ms=100).values():
                        for r in records:
                            if state["takeover_offset"] < 0:
                                state["takeover_offset"] = r.offset
                            log.processed(message_id(r.value), clock.now())
                        commit_offsets(second, {tp: records[-1].offset + 1})
                    if second.assignment() and second.position(tp) >= messages:
                        break
                    if time.monotonic() > deadline:
                        raise WaitTimeout(
                            f"the second member did not reach offset {messages} within "
                            f"{TAKEOVER_TIMEOUT_S:.0f} s (position {second.position(tp)})"
                        )
                second.close()
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                state["error"] = exc

        helper = threading.Thread(target=take_over, name="take-over", daemon=True)
        sizes: list[int] = []
        done = dups = 0
        last_committed = 0
        rejected, commit_error = 0, ""
        pending = poll_until_assigned(first)
        woke = False
        deadline = time.monotonic() + READ_TIMEOUT_S
        while not woke:
            records = pending or [r for b in first.poll(timeout_ms=100).values() for r in b]
            pending = []
            if not records:
                if time.monotonic() > deadline:
                    raise WaitTimeout(
                        f"the first member read {done} of the {k} records before its stall "
                        f"within {READ_TIMEOUT_S:.0f} s; is the broker overloaded?"
                    )
                continue
            sizes.append(len(records))
            for r in records:
                log.processed(message_id(r.value), clock.now())
                if woke:
                    dups += 1
                done += 1
                if done == k:  # the stall: no poll, no commit, no heartbeat from the app
                    helper.start()
                    time.sleep(stall_s)
                    woke = True
            try:
                commit_offsets(first, {tp: records[-1].offset + 1})
                if not woke:
                    last_committed = records[-1].offset + 1
            except KafkaError as exc:
                rejected, commit_error = 1, type(exc).__name__
        first.close(autocommit=False)
        helper.join(TAKEOVER_TIMEOUT_S + 10)
        if state["error"] is not None:
            raise state["error"]
        end = clock.now()
    history = sends.history([log.history()], end_time=end)
    return Result.from_history(
        "zombie",
        SOURCE,
        history,
        seed=seed,
        params=params,
        settings={
            "run_id": s.run_id,
            "kafka.partitions": 1,
            "consumer.max_poll_records": batch,
            "consumer.max_poll_interval_ms": max_poll_interval_ms,
            "consumer.enable_auto_commit": False,
            "stall": f"after side effect #{k}, for {stall_s:g} s",
            "commit_error": commit_error,
            "batch_sizes": sizes,
        },
        metrics={
            "last_committed": last_committed,
            "takeover_offset": state["takeover_offset"],
            "zombie_duplicates": dups,
            "commit_rejected": rejected,
        },
    )

"""Hybrid: Kafka as the source of truth, Redis Pub/Sub for a live view derived from it.

A producer writes account events (``num_keys`` accounts, each event an amount) to a Kafka
topic at ``rate_per_s`` for ``window_s`` seconds. A bridge -- a consumer group,
``group:bridge`` -- reads the topic and PUBLISHes every event as a notification on a Redis
channel. A live view (``subscriber:0``) keeps each account's balance by adding up the
amounts it is notified of.

From ``down_from_s`` for ``down_for_s`` seconds the view's connection is really closed: the
notifications published meanwhile are gone, and its balances are wrong from then on -- the
view cannot even tell, since the next notifications arrive normally. The facts are not lost:
the view is rebuilt (``replay:rebuild``) by reading the topic from the beginning
(``assign`` + ``seek_to_beginning``) up to its end offsets, and every balance is right again.
Losing a notification never loses the fact.
"""

from __future__ import annotations

import threading
from collections import defaultdict

import numpy as np
from kafka import TopicPartition

import sim.progress as progress
from labs.clients import (
    commit_offsets,
    poll_until_assigned,
    redis_client,
    sleep_until,
    subscribe,
    wait_until,
)
from labs.consume import drain, end_offsets, topic_partitions
from labs.experiments.hybrid import HYBRID, workload
from labs.naming import Scratch, scratch
from labs.recording import Clock, LabThread, ReaderLog, Sends, join_all
from labs.workload import draw, lab_rngs, message_id
from sim.analysis.result import Result
from sim.core.history import OK
from sim.models.partitioner import key_bytes

SOURCE = "redis+kafka"


def event(msg_id: int, key: int, amount: int) -> bytes:
    return f"{msg_id} {key} {amount}".encode("ascii")


def parse_event(body: bytes) -> tuple[int, int, int]:
    msg_id, key, amount = bytes(body).split(b" ")[:3]
    return int(msg_id), int(key), int(amount)


@progress.task("hybrid lab on the real brokers")
def run_hybrid(
    *,
    rate_per_s: float = 200.0,
    window_s: float = 3.0,
    down_from_s: float = 1.0,
    down_for_s: float = 1.0,
    partitions: int = 3,
    num_keys: int = 20,
    seed: int = 0,
) -> Result:
    """Run the hybrid lab; see the module docstring."""
    HYBRID.check(locals())  # ranges and defaults: labs/experiments/hybrid.py
    params = dict(
        rate_per_s=rate_per_s,
        window_s=window_s,
        down_from_s=down_from_s,
        down_for_s=down_for_s,
        partitions=partitions,
        num_keys=num_keys,
    )
    sent = draw(workload(**params), seed)
    offsets, key_seq = sent.publish_time, sent.keys
    (amount_rng,) = lab_rngs(seed, 1)
    amounts = amount_rng.integers(1, 100, offsets.size)
    down = (down_from_s, down_from_s + down_for_s)

    with scratch("hybrid") as s:
        topic = s.topic("accounts", partitions=partitions)
        tps = topic_partitions(topic, partitions)
        channel = s.redis_name("notifications")
        producer = s.producer(acks="all", enable_idempotence=True)
        clock = Clock()
        stop = threading.Event()
        bridge_log, view_log = ReaderLog("group:bridge"), ReaderLog("subscriber:0")
        view: dict[int, int] = defaultdict(int)
        bridge = _Bridge(s, topic, channel, bridge_log, clock, stop)
        live = _LiveView(channel, view_log, view, clock, down, stop)
        threads = [LabThread("bridge", bridge.run), LabThread("view", live.run)]
        for th in threads:
            th.start()
        try:
            wait_until(
                lambda: (
                    bridge.ready.is_set() and live.ready.is_set() or any(th.error for th in threads)
                ),
                timeout_s=10,
                what="the bridge and the live view to be ready",
            )
            clock.restart()
            live.go.set()
            sends = Sends()
            with progress.task("sending", total=len(offsets), unit="msg") as sent:
                for i, (t, k) in enumerate(zip(offsets, key_seq, strict=True)):
                    sleep_until(clock.at(t))
                    future = producer.send(topic, key=key_bytes(k), value=event(i, k, amounts[i]))
                    sends.add_kafka(int(k), clock.now(), future)
                    sent.advance()
            sends.settle(producer, timeout_s=10)
            acked = int((sends.array("outcome") == OK).sum())
            wait_until(
                lambda: bridge_log.distinct() >= acked or any(th.error for th in threads),
                timeout_s=10,
                what="the bridge to forward every event",
            )
            last = len(sends) - 1
            wait_until(
                lambda: (
                    last in live.seen
                    or clock.now() > window_s + 2
                    or any(th.error for th in threads)
                ),
                timeout_s=5,
                what="the live view to receive the last notification",
            )
        finally:
            stop.set()
            join_all(threads, timeout_s=10)

        rebuild_log = ReaderLog("replay:rebuild")
        rebuilt: dict[int, int] = defaultdict(int)
        reader = s.consumer()
        reader.assign(tps)
        reader.seek_to_beginning(*tps)
        ends = end_offsets(reader, tps)
        for record in drain(reader, rebuild_log, clock, ends, commit=False):
            _, key, amount = parse_event(record.value)
            rebuilt[key] += amount
        reader.close()
        end = clock.now()

    n = len(sends)
    outcome = sends.array("outcome")
    truth: dict[int, int] = defaultdict(int)
    for i in np.nonzero(outcome == OK)[0]:
        truth[int(key_seq[i])] += int(amounts[i])
    all_keys = sorted(truth)
    # Bounds on what the view can have lost, from when the bridge published each event.
    pub_ids = np.array(bridge_log.ids, np.int64)  # in publish order
    started = np.array(bridge.started, float)  # before each PUBLISH call
    done = np.array(bridge_log.times, float)  # after it returned
    o = live.outage
    lost_min = int(((started >= o["closed"]) & (done < o["subscribing"])).sum())
    after_last = np.arange(pub_ids.size) > (
        np.nonzero(pub_ids == o["last_id"])[0].min() if o["last_id"] >= 0 else -1
    )
    lost_max = int((after_last & (started <= o["subscribed"])).sum())
    history = sends.history(
        [
            bridge_log.history(available=np.ones(n, bool)),
            view_log.history(available=np.zeros(n, bool)),
            rebuild_log.history(available=np.ones(n, bool)),
        ],
        end_time=end,
    )
    return Result.from_history(
        "hybrid",
        SOURCE,
        history,
        seed=seed,
        params=params,
        settings={
            "run_id": s.run_id,
            "source of truth": f"Kafka topic, {partitions} partitions, acks=all, idempotent",
            "bridge": "consumer group; PUBLISH each event, then commit (at least once)",
            "live view": "Pub/Sub subscriber summing amounts per account (at most once)",
            "rebuild": "assign + seek_to_beginning, read up to the end offsets",
        },
        metrics={
            "disconnects:subscriber:0": 1,
            "down_s:subscriber:0": o["subscribed"] - o["closed"],
            "lost_min:subscriber:0": lost_min,
            "lost_max:subscriber:0": lost_max,
            "publish_zero_receivers:bridge": bridge.zero_receivers,
            "accounts": len(all_keys),
            "wrong_balances:subscriber:0": sum(view.get(k, 0) != truth[k] for k in all_keys),
            "wrong_balances:replay:rebuild": sum(rebuilt.get(k, 0) != truth[k] for k in all_keys),
            "balance_error:subscriber:0": float(
                sum(abs(view.get(k, 0) - truth[k]) for k in all_keys)
            ),
        },
    )


class _Bridge:
    """Kafka -> Redis: PUBLISH every event, commit after each poll batch."""

    def __init__(self, s: Scratch, topic, channel, log, clock, stop) -> None:
        self.s, self.topic, self.channel = s, topic, channel
        self.log, self.clock, self.stop = log, clock, stop
        self.ready = threading.Event()
        self.zero_receivers = 0
        self.started: list[float] = []

    def run(self) -> None:
        consumer = self.s.consumer(self.topic, group_id=self.s.group("bridge"))
        records = poll_until_assigned(consumer)
        publisher = redis_client()
        self.ready.set()
        while not self.stop.is_set():
            done = {}
            for r in records:
                self.started.append(self.clock.now())
                if publisher.publish(self.channel, r.value) == 0:
                    self.zero_receivers += 1
                self.log.processed(message_id(r.value), self.clock.now())
                done[TopicPartition(r.topic, r.partition)] = r.offset + 1
            commit_offsets(consumer, done)
            records = [r for b in consumer.poll(timeout_ms=20).values() for r in b]
        consumer.close(autocommit=False)
        publisher.close()


class _LiveView:
    """A Pub/Sub subscriber keeping balances; really disconnected during ``down``."""

    def __init__(self, channel, log, view, clock, down, stop) -> None:
        self.channel, self.log, self.view = channel, log, view
        self.clock, self.down, self.stop = clock, down, stop
        self.ready = threading.Event()
        self.go = threading.Event()  # set when the run clock starts
        self.outage: dict = {}
        self.seen: set[int] = set()

    def run(self) -> None:
        client = redis_client()
        pubsub = subscribe(client, self.channel)
        self.ready.set()
        self.go.wait(15)
        was_down = False
        while not self.stop.is_set():
            if not was_down and self.clock.now() >= self.down[0]:
                self.outage["last_id"] = self.log.ids[-1] if self.log.ids else -1
                pubsub.close()
                client.close()
                self.outage["closed"] = self.clock.now()
                sleep_until(self.clock.at(self.down[1]))
                self.outage["subscribing"] = self.clock.now()
                client = redis_client()
                pubsub = subscribe(client, self.channel)
                self.outage["subscribed"] = self.clock.now()
                was_down = True
                continue
            msg = pubsub.get_message(timeout=0.01)
            if msg is not None and msg["type"] == "message":
                msg_id, key, amount = parse_event(msg["data"])
                self.view[key] += amount
                self.seen.add(msg_id)
                self.log.processed(msg_id, self.clock.now())
        pubsub.close()
        client.close()

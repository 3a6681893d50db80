"""Loss: what a consumer that is down misses on Redis Pub/Sub and on Kafka.

A publisher sends numbered events at ``rate_per_s`` for ``window_s`` seconds, each one both
PUBLISHed to a Redis channel and sent to a Kafka topic. One Redis subscriber and one Kafka
consumer (group ``group:0``) read them. From ``down_from_s`` for ``down_for_s`` seconds both
are down: the subscriber's connection is really closed and a new one subscribes later; the
Kafka consumer commits what it processed and closes, and a new consumer in the same group
resumes from the committed offset.

The publisher keeps an open-loop schedule (:mod:`labs.sending`): whatever is due goes out
at once -- one Redis pipeline of PUBLISHes, then as many Kafka sends -- and each message's
real send time is recorded. The consumer is paced on a schedule with batch sleeps
(:mod:`labs.pacing`), so it keeps thousands of records a second as well as a few.

Pub/Sub delivers only to subscribers connected at publish time -- PUBLISH returns how many
received the message, 0 while the subscriber is away -- so the subscriber loses about
``rate_per_s * down_for_s`` events. Kafka keeps them: the group's lag rises to about the
same number, then drains at ``service_rate_per_s - rate_per_s`` once the consumer is back,
and nothing is lost.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque

import numpy as np

import sim.progress as progress
from labs.clients import (
    commit_offsets,
    poll_until_assigned,
    redis_client,
    sleep_until,
    subscribe,
    wait_until,
)
from labs.experiments.loss import LOSS, workload
from labs.naming import Scratch, scratch
from labs.pacing import Pacer
from labs.recording import (
    Clock,
    LabThread,
    ReaderLog,
    Sends,
    catch_up_time,
    first_times,
    join_all,
    lag_series,
)
from labs.sending import due_batches, publish_batch
from labs.workload import draw, message_id, payload
from sim.analysis.result import Result
from sim.core.history import OK
from sim.models.partitioner import key_bytes

SOURCE = "redis+kafka"


@progress.task("loss lab on the real brokers")
def run_loss(
    *,
    rate_per_s: float = 200.0,
    window_s: float = 4.0,
    down_from_s: float = 1.0,
    down_for_s: float = 1.5,
    service_rate_per_s: float = 400.0,
    partitions: int = 1,
    num_keys: int = 10,
    arrivals: str = "constant",
    seed: int = 0,
) -> Result:
    """Run the loss lab; see the module docstring."""
    LOSS.check(locals())  # ranges and defaults: labs/experiments/loss.py
    params = dict(
        rate_per_s=rate_per_s,
        window_s=window_s,
        down_from_s=down_from_s,
        down_for_s=down_for_s,
        service_rate_per_s=service_rate_per_s,
        partitions=partitions,
        num_keys=num_keys,
        arrivals=arrivals,
    )
    sent = draw(workload(**params), seed)
    offsets, key_seq = sent.publish_time, sent.keys
    down = (down_from_s, down_from_s + down_for_s)

    with scratch("loss") as s:
        topic = s.topic("events", partitions=partitions)
        group = s.group("group-0")
        channel = s.redis_name("events")
        producer = s.producer(acks="all", enable_idempotence=True)
        clock = Clock()
        go, stop = threading.Event(), threading.Event()
        sub_log, grp_log = ReaderLog("subscriber:0"), ReaderLog("group:0")
        sub_ready, grp_ready = threading.Event(), threading.Event()
        outage: dict = {}
        consumer_outage: dict = {}
        threads = [
            LabThread(
                "subscriber",
                _subscriber,
                channel,
                sub_log,
                clock,
                down,
                go,
                stop,
                sub_ready,
                outage,
            ),
            LabThread(
                "consumer",
                _consumer,
                s,
                topic,
                group,
                grp_log,
                clock,
                down,
                service_rate_per_s,
                go,
                stop,
                grp_ready,
                consumer_outage,
            ),
        ]
        for th in threads:
            th.start()
        try:
            wait_until(
                lambda: sub_ready.is_set() and grp_ready.is_set() or _first_error(threads),
                timeout_s=10,
                what="the subscriber and the consumer to be ready",
            )
            _raise_thread_errors(threads)
            sends = Sends()
            published: list[float] = []  # when each PUBLISH returned
            clock.restart()
            go.set()
            for start, stop_at, now in due_batches(offsets, clock):  # open-loop schedule
                receivers = publish_batch(s.redis, channel, range(start, stop_at))
                returned = clock.now()
                for msg_id in range(start, stop_at):
                    k = key_seq[msg_id]
                    future = producer.send(topic, key=key_bytes(k), value=payload(msg_id))
                    sends.add_kafka(int(k), now, future)
                    sends.receivers[msg_id] = receivers[msg_id - start]
                    published.append(returned)
            sends.settle(producer, timeout_s=10)
            acked = int((sends.array("outcome") == OK).sum())
            # Kafka drains the backlog; the subscriber only needs the last message in flight.
            drain_s = 5.0 + 2.0 * acked / service_rate_per_s  # returns once they are in
            with contextlib.suppress(TimeoutError):  # what is left shows as "unseen"
                wait_until(
                    lambda: grp_log.distinct() >= acked or _first_error(threads),
                    timeout_s=drain_s,
                    what="the Kafka consumer to process every acknowledged event",
                )
            wait_until(
                lambda: (
                    (sub_log.count() and sub_log.ids[-1] == len(sends) - 1)
                    or clock.now() > window_s + 1.0
                    or _first_error(threads)
                ),
                timeout_s=3,
                what="the subscriber to receive the last event",
            )
        finally:
            stop.set()
            join_all(threads, timeout_s=10)
        end = clock.now()

    n = len(sends)
    outcome = sends.array("outcome")
    receivers = sends.array("receivers")
    send_t = sends.array("times")
    history = sends.history(
        [
            sub_log.history(available=np.zeros(n, bool)),  # Pub/Sub keeps nothing
            grp_log.history(available=np.ones(n, bool)),  # the log keeps everything
        ],
        end_time=end,
    )
    lag = lag_series("lag:group:0", send_t[outcome == OK], first_times(grp_log), end=end)
    backlog_theory = rate_per_s * down_for_s
    lost_min, lost_max = outage_bounds(send_t, np.array(published), outage)
    result = Result.from_history(
        "loss",
        SOURCE,
        history,
        seed=seed,
        params=params,
        settings={
            "run_id": s.run_id,
            "redis.delivery": "Pub/Sub, at most once (connected subscribers only)",
            "kafka.acks": "all",
            "kafka.enable_idempotence": True,
            "kafka.partitions": partitions,
            "kafka.commit": "after processing, sync, explicit offsets; on stop",
            "kafka.auto_offset_reset": "earliest",
            "consumer.service_rate_per_s": service_rate_per_s,
        },
        series={"lag:group:0": lag},
        metrics={
            "down_fraction": down_for_s / window_s,
            "publish_zero_receivers": int((receivers == 0).sum()),
            "publish_receivers_mean": float(receivers.mean()) if n else 0.0,
            "disconnects:subscriber:0": 1,
            "down_s:subscriber:0": outage["subscribed"] - outage["closed"],
            "closed_at_s:subscriber:0": outage["closed"],
            "subscribing_at_s:subscriber:0": outage["subscribing"],
            "lost_min:subscriber:0": lost_min,
            "lost_max:subscriber:0": lost_max,
            "down_s:group:0": consumer_outage["resumed"] - consumer_outage["stopped"],
            "sent_while_down:group:0": int(
                (
                    (send_t >= consumer_outage["stopped"]) & (send_t < consumer_outage["resumed"])
                ).sum()
            ),
            "peak_lag:group:0": float(lag.value.max()) if lag.value.size else 0.0,
            "peak_lag_theory:group:0": backlog_theory,
            "catch_up_s:group:0": catch_up_time(lag, after=down[1], threshold=2),
            "catch_up_theory_s:group:0": backlog_theory / (service_rate_per_s - rate_per_s),
        },
    )
    return result


def _first_error(threads) -> bool:
    return any(th.error is not None for th in threads)


def _raise_thread_errors(threads) -> None:
    for th in threads:
        if th.error is not None:
            raise th.error


def _subscriber(channel, log, clock, down, go, stop, ready, outage) -> None:
    """Read the channel; really close the connection during ``down`` and re-subscribe.

    ``outage`` gets the run times the connection was closed (``closed``), the new SUBSCRIBE
    was sent (``subscribing``) and confirmed (``subscribed``), and the last message id read
    before closing (``last_id``).
    """
    client = redis_client()
    pubsub = subscribe(client, channel)
    ready.set()
    go.wait(15)
    was_down = False
    while not stop.is_set():
        if not was_down and clock.now() >= down[0]:
            outage["last_id"] = log.ids[-1] if log.ids else -1
            pubsub.close()  # the TCP connection goes away: Redis forgets this subscriber
            client.close()
            outage["closed"] = clock.now()
            sleep_until(clock.at(down[1]))
            outage["subscribing"] = clock.now()
            client = redis_client()
            pubsub = subscribe(client, channel)
            outage["subscribed"] = clock.now()
            was_down = True
            continue
        timeout = 0.02 if was_down else max(0.0, min(0.02, down[0] - clock.now()))
        msg = pubsub.get_message(timeout=timeout)
        if msg is not None and msg["type"] == "message":
            log.processed(message_id(msg["data"]), clock.now())
    pubsub.close()
    client.close()


def outage_bounds(
    send_times: np.ndarray, returned_times: np.ndarray, outage: dict
) -> tuple[int, int]:
    """Fewest and most messages a subscriber can have lost in ``outage``.

    At least those whose PUBLISH started after the connection was closed and returned before
    the new SUBSCRIBE was sent (nobody listened); at most those after the last one read
    before closing, up to the confirmation of the new subscription (the rest of the old
    connection's buffer, and the ones racing the new SUBSCRIBE, may be lost too).
    """
    t = np.asarray(send_times)
    low = int(((t >= outage["closed"]) & (returned_times < outage["subscribing"])).sum())
    high = int((t <= outage["subscribed"]).sum()) - (outage["last_id"] + 1)
    return low, high


def _consumer(
    s: Scratch, topic, group, log, clock, down, service_rate, go, stop, ready, outage
) -> None:
    """Process at ``service_rate`` (a :class:`~labs.pacing.Pacer`'s schedule, batch sleeps);
    commit after processing; be away during ``down``."""
    pacer = Pacer(service_rate)
    consumer = s.consumer(topic, group_id=group)
    pending = deque(poll_until_assigned(consumer))
    ready.set()
    go.wait(15)
    was_down = False
    ready_at = clock.now()
    processed: dict = {}
    while not stop.is_set():
        if not was_down and clock.now() >= down[0]:
            commit_offsets(consumer, processed)
            consumer.close(autocommit=False)
            outage["stopped"] = clock.now()
            sleep_until(clock.at(down[1]))
            consumer = s.consumer(topic, group_id=group)
            pending = deque(poll_until_assigned(consumer))
            outage["resumed"] = ready_at = clock.now()
            processed = {}
            pacer.reset()
            was_down = True
            continue
        if not pending:
            for batch in consumer.poll(timeout_ms=20).values():
                pending.extend(batch)
            ready_at = clock.now()
            if processed:
                commit_offsets(consumer, processed)
                processed = {}
            continue
        record = pending.popleft()
        due = pacer.due(ready_at)
        now = clock.now()
        if pacer.sleep_s(due, now):
            sleep_until(clock.at(due))
            now = clock.now()
        log.processed(message_id(record.value), now)
        processed[_tp(record)] = record.offset + 1
        if not was_down and clock.now() >= down[0]:
            pending = deque()  # stopping: records fetched but not processed are read again later
    commit_offsets(consumer, processed)
    consumer.close(autocommit=False)


def _tp(record):
    from kafka import TopicPartition

    return TopicPartition(record.topic, record.partition)

"""Backpressure: consumers slower than the producer, on Redis Pub/Sub and on Kafka.

A publisher sends ``rate_per_s`` messages a second for ``window_s`` seconds, to a Redis
channel (``message_bytes`` bytes each) and to a Kafka topic (just the id and key: the log
keeps the backlog whatever its size, and kafka-python checksums batches in pure Python).
The readers process ``service_rate_per_s`` messages a second; the naive slow subscriber
only ``slow_rate_per_s``.
Processing time is modelled: a reader's worker finishes a message exactly ``1 / rate``
seconds after it started it (see :class:`labs.recording.Worker`), so other threads holding
the CPU do not change the outcome.

Redis pushes: what a subscriber has not read waits in the kernel's socket buffers and then
in the server's output buffer for that client, and ``client-output-buffer-limit pubsub``
caps the latter (32 MB hard, 8 MB for 60 s by default). For the run the lab lowers the hard
limit to ``buffer_limit_bytes`` with ``CONFIG SET`` and restores the previous value
afterwards (also when the lab fails). The limit applies to every pubsub client of the
server while the lab runs.

- ``subscriber:slow`` reads the socket only when it is ready for the next message. Once
  the kernel buffers are full its output buffer grows until the server closes the
  connection; the lab sees the connection error and checks ``CLIENT LIST`` that the server
  dropped the client it had subscribed with. Everything that was buffered, and everything
  published after, is lost -- although PUBLISH had counted the subscriber for the former.
- Three subscribers read the socket at once into a local buffer with a policy:
  ``subscriber:queue`` keeps everything (no loss; the backlog moves into the client's
  memory), ``subscriber:shed`` keeps at most ``shed_limit`` and drops new messages beyond
  it, ``subscriber:degrade`` keeps only the newest message per key (conflation: stale
  updates are skipped, the latest state is still shown).

Kafka pulls: ``group:slow`` fetches only as much as it can work on, so the backlog stays in
the log as lag, which peaks when the burst ends and drains afterwards. Nothing is lost.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque

import numpy as np
import redis
from kafka import TopicPartition
from redis.backoff import NoBackoff
from redis.retry import Retry

import sim.progress as progress
from labs.clients import (
    commit_offsets,
    poll_until_assigned,
    redis_client,
    sleep_until,
    subscribe,
    wait_until,
)
from labs.experiments.backpressure import BACKPRESSURE, workload
from labs.naming import Scratch, scratch
from labs.recording import (
    Clock,
    LabThread,
    ReaderLog,
    Sends,
    Worker,
    catch_up_time,
    first_times,
    join_all,
    lag_series,
)
from labs.workload import draw, message_id, message_key, payload
from sim.analysis.result import Result
from sim.core.history import OK
from sim.models.partitioner import key_bytes

SOURCE = "redis+kafka"
POLICIES = ("queue", "shed", "degrade")
CONFIG_KEY = "client-output-buffer-limit"
#: Held while a run has lowered the limit (expires on its own if the process dies). The TTL
#: outlasts a run on a loaded workshop machine (up to ~45 s seen with 8 learners on 2
#: cores): a lock that expired mid-run let a second run save the lowered limit as
#: "previous", and the first run's restore left the second without its limit.
LOCK_KEY = "course:lock:client-output-buffer-limit"
LOCK_TTL_S = 120


def _release(r: redis.Redis, token: str) -> None:
    """Delete the lock if this run still holds it."""
    if r.get(LOCK_KEY) == token.encode():
        r.delete(LOCK_KEY)


@progress.task("backpressure lab on the real brokers")
def run_backpressure(
    *,
    rate_per_s: float = 200.0,
    window_s: float = 1.5,
    message_bytes: int = 65536,
    service_rate_per_s: float = 60.0,
    slow_rate_per_s: float = 15.0,
    buffer_limit_bytes: int = 262144,
    shed_limit: int = 20,
    num_keys: int = 20,
    seed: int = 0,
) -> Result:
    """Run the backpressure lab; see the module docstring."""
    BACKPRESSURE.check(locals())  # ranges and defaults: labs/experiments/backpressure.py
    params = dict(
        rate_per_s=rate_per_s,
        window_s=window_s,
        message_bytes=message_bytes,
        service_rate_per_s=service_rate_per_s,
        slow_rate_per_s=slow_rate_per_s,
        buffer_limit_bytes=buffer_limit_bytes,
        shed_limit=shed_limit,
        num_keys=num_keys,
    )
    sent = draw(workload(**params), seed)
    offsets, key_seq = sent.publish_time, sent.keys
    per_msg = 1.0 / service_rate_per_s

    with scratch("bp") as s:
        topic = s.topic("events")
        channel = s.redis_name("events")
        producer = s.producer(acks="all", enable_idempotence=True, linger_ms=5)
        # One run at a time changes the server-wide limit: a second run would read the
        # lowered value as "previous" and restore that.
        lock_token = s.run_id
        wait_until(
            lambda: s.redis.set(LOCK_KEY, lock_token, nx=True, ex=LOCK_TTL_S),
            timeout_s=LOCK_TTL_S + 5,
            what=f"another backpressure run to release {LOCK_KEY}",
            interval_s=0.2,
        )
        try:
            previous = s.redis.config_get(CONFIG_KEY)[CONFIG_KEY]
            limit = f"pubsub {buffer_limit_bytes} {buffer_limit_bytes // 2} 60"
            s.redis.config_set(CONFIG_KEY, limit)
        except BaseException:
            _release(s.redis, lock_token)
            raise
        try:
            clock = Clock()
            stop, publishing_done = threading.Event(), threading.Event()
            slow = _SlowSubscriber(s, channel, clock, 1.0 / slow_rate_per_s, stop)
            policies = {
                p: _PolicySubscriber(p, channel, clock, per_msg, shed_limit, stop) for p in POLICIES
            }
            kafka = _SlowConsumer(s, topic, clock, per_msg, stop)
            threads = [LabThread("slow", slow.run), LabThread("kafka", kafka.run)]
            threads += [LabThread(p.policy, p.run) for p in policies.values()]
            for th in threads:
                th.start()
            try:
                wait_until(
                    lambda: (
                        (
                            slow.ready.is_set()
                            and kafka.ready.is_set()
                            and all(p.ready.is_set() for p in policies.values())
                        )
                        or any(th.error for th in threads)
                    ),
                    timeout_s=10,
                    what="the subscribers and the consumer to be ready",
                )
                clock.restart()
                sends = Sends()
                with progress.task("sending", total=len(offsets), unit="msg") as sent:
                    for i, (t, k) in enumerate(zip(offsets, key_seq, strict=True)):
                        sleep_until(clock.at(t))
                        data = payload(i, message_bytes, key=k)
                        now = clock.now()
                        receivers = s.redis.publish(channel, data)
                        # Kafka gets the id only: kafka-python checksums batches in pure
                        # Python (~3 MB/s), and the log's lag is counted in messages, not bytes.
                        future = producer.send(topic, key=key_bytes(k), value=payload(i, key=k))
                        sends.add_kafka(int(k), now, future)
                        sends.receivers[i] = receivers
                        sent.advance()
                publishing_done.set()
                sends.settle(producer, timeout_s=10)
                acked = int((sends.array("outcome") == OK).sum())
                budget = 3.0 + acked * per_msg
                wait_until(
                    lambda: (
                        (
                            kafka.log.distinct() >= acked
                            and all(p.idle() for p in policies.values())
                            and (slow.idle() or slow.disconnects)
                        )
                        or any(th.error for th in threads)
                    ),
                    timeout_s=budget,
                    what="the readers to finish their backlog",
                )
            finally:
                stop.set()
                join_all(threads, timeout_s=10)
            end = clock.now()
        finally:
            try:
                s.redis.config_set(CONFIG_KEY, previous)
            finally:
                _release(s.redis, lock_token)

    n = len(sends)
    key_arr = sends.array("keys")
    none_kept = np.zeros(n, bool)
    readers = [slow.log.history(available=none_kept)]
    readers += [policies[p].log.history(available=none_kept) for p in POLICIES]
    readers.append(kafka.log.history(available=np.ones(n, bool)))
    history = sends.history(readers, end_time=end)
    send_t = sends.array("times")
    outcome = sends.array("outcome")
    lag = lag_series("lag:group:slow", send_t[outcome == OK], first_times(kafka.log), end=end)
    degrade = history.reader("subscriber:degrade")
    last_per_key = {int(k): i for i, k in enumerate(key_arr)}
    shown = {}
    for i in degrade.ids.tolist():
        shown[int(key_arr[i])] = i
    receivers = sends.array("receivers")
    return Result.from_history(
        "backpressure",
        SOURCE,
        history,
        seed=seed,
        params=params,
        settings={
            "run_id": s.run_id,
            "redis client-output-buffer-limit (during the run)": limit,
            "redis client-output-buffer-limit (restored)": previous,
            "processing rate": f"{service_rate_per_s:g} msg/s ({slow_rate_per_s:g} for slow)",
            "subscriber:slow": "reads the socket at its processing speed; stops when dropped",
            "subscriber:queue": "unbounded local queue",
            "subscriber:shed": f"local queue of {shed_limit}, drops the newest beyond",
            "subscriber:degrade": "newest message per key only (conflation)",
            "kafka.acks": "all",
            "group:slow": "fetches at its own pace; commits after processing",
        },
        series={"lag:group:slow": lag},
        metrics={
            "publish_rate_per_s": float((n - 1) / send_t[-1]) if n > 1 and send_t[-1] else 0.0,
            "disconnects:subscriber:slow": slow.disconnects,
            "server_dropped_client:subscriber:slow": float(slow.server_dropped),
            "dropped_at_s:subscriber:slow": slow.dropped_at,
            "publish_counted_but_lost:subscriber:slow": _counted_but_lost(
                receivers, history.reader("subscriber:slow").ids, n
            ),
            "peak_queue:subscriber:queue": policies["queue"].peak,
            **{f"disconnects:subscriber:{p}": policies[p].disconnects for p in POLICIES},
            "shed:subscriber:shed": policies["shed"].dropped,
            "superseded:subscriber:degrade": policies["degrade"].dropped,
            "latest_state_correct:subscriber:degrade": float(shown == last_per_key),
            "peak_lag:group:slow": float(lag.value.max()),
            "catch_up_s:group:slow": catch_up_time(lag, after=send_t[-1], threshold=0),
            "catch_up_theory_s:group:slow": max(0.0, acked * per_msg - send_t[-1]),
        },
    )


def _counted_but_lost(receivers: np.ndarray, got: np.ndarray, n: int) -> int:
    """Messages PUBLISH delivered to every subscriber (all 4) that the slow one never read."""
    seen = np.zeros(n, bool)
    seen[got] = True
    return int(((receivers >= len(POLICIES) + 1) & ~seen).sum())


def _subscriber_client(name: str) -> redis.Redis:
    """A client that surfaces a dropped connection instead of silently reconnecting."""
    return redis_client(client_name=name, retry=Retry(NoBackoff(), 0))


class _SlowSubscriber:
    """Reads the socket only as fast as it processes; detects the server dropping it."""

    def __init__(self, s: Scratch, channel, clock, per_msg, stop) -> None:
        self.s, self.channel, self.clock, self.per_msg, self.stop = s, channel, clock, per_msg, stop
        self.name = f"course-bp-{s.run_id}-slow"
        self.log = ReaderLog("subscriber:slow")
        self.ready = threading.Event()
        self.disconnects = 0
        self.dropped_at = float("nan")
        self.server_dropped = False
        self.last_message = time.monotonic()

    def idle(self) -> bool:
        return time.monotonic() - self.last_message > 0.3

    def _client_id(self) -> int:
        """The server's id of our (newest) subscriber connection."""
        return max(int(c["id"]) for c in self.s.redis.client_list() if c.get("name") == self.name)

    def run(self) -> None:
        client = _subscriber_client(self.name)
        pubsub = subscribe(client, self.channel)
        client_id = self._client_id()
        self.ready.set()
        worker = Worker(1.0 / self.per_msg)
        while not self.stop.is_set():
            now = self.clock.now()
            if worker.free_at > now:  # busy processing: the socket is not read meanwhile
                sleep_until(self.clock.at(min(worker.free_at, now + 0.02)))
                continue
            try:
                msg = pubsub.get_message(timeout=0)
                ready_at = worker.free_at  # it was waiting: the worker starts when free
                if msg is None:
                    msg = pubsub.get_message(timeout=0.01)
                    ready_at = self.clock.now()
            except redis.ConnectionError:
                # redis-py may already have reconnected under the hood; the server-side client
                # id tells whether the server closed the connection we subscribed on.
                self.disconnects += 1
                self.dropped_at = self.clock.now()
                ids = {int(c["id"]) for c in self.s.redis.client_list()}
                self.server_dropped = self.server_dropped or client_id not in ids
                break  # the lab stops here: what this subscriber did not read is lost
            if msg is None or msg["type"] != "message":
                continue
            self.last_message = time.monotonic()
            finish = worker.finish_time(ready_at)
            worker.complete(finish)
            self.log.processed(message_id(msg["data"]), finish)
        pubsub.close()
        client.close()


class _PolicySubscriber:
    """Reads the socket as fast as messages come into a local buffer (with a policy) and
    processes that buffer at its own pace -- one thread, so the client stays responsive."""

    def __init__(self, policy, channel, clock, per_msg, shed_limit, stop) -> None:
        self.policy, self.channel, self.clock = policy, channel, clock
        self.per_msg, self.shed_limit, self.stop = per_msg, shed_limit, stop
        self.log = ReaderLog(f"subscriber:{policy}")
        self.ready = threading.Event()
        self.buffer: deque | OrderedDict = OrderedDict() if policy == "degrade" else deque()
        self.peak = 0
        self.dropped = 0
        self.disconnects = 0  # Redis closed the connection (a thread starved of CPU)
        self.last_message = time.monotonic()

    def idle(self) -> bool:
        return not self.buffer and (
            self.disconnects > 0 or time.monotonic() - self.last_message > 0.3
        )

    def _keep(self, data: bytes, now: float) -> None:
        item = (now, message_id(data))
        if self.policy == "queue":
            self.buffer.append(item)
        elif self.policy == "shed":
            if len(self.buffer) >= self.shed_limit:
                self.dropped += 1
            else:
                self.buffer.append(item)
        else:  # degrade: the newest message per key replaces an older one still waiting
            key = message_key(data)
            if key in self.buffer:
                self.dropped += 1
                del self.buffer[key]
            self.buffer[key] = item
        self.peak = max(self.peak, len(self.buffer))

    def _oldest(self):
        if self.policy == "degrade":
            return next(iter(self.buffer.values()))
        return self.buffer[0]

    def _pop(self) -> None:
        if self.policy == "degrade":
            self.buffer.popitem(last=False)
        else:
            self.buffer.popleft()

    def run(self) -> None:
        # A client that surfaces a dropped connection: a silent reconnect would lose the
        # messages in between without counting them against the policy.
        client = _subscriber_client(f"course-bp-{self.policy}")
        pubsub = subscribe(client, self.channel)
        self.ready.set()
        worker = Worker(1.0 / self.per_msg)
        while not self.stop.is_set():
            now = self.clock.now()
            while self.buffer:
                ready_at, msg_id = self._oldest()
                finish = worker.finish_time(ready_at)
                if finish > now:
                    break
                self._pop()
                worker.complete(finish)
                self.log.processed(msg_id, finish)
            if self.disconnects:  # dropped: only the local buffer is left to process
                sleep_until(self.clock.at(now + 0.01))
                continue
            try:
                msg = pubsub.get_message(timeout=0.01)
                while msg is not None:
                    if msg["type"] == "message":
                        self.last_message = time.monotonic()
                        self._keep(msg["data"], self.clock.now())
                    msg = pubsub.get_message(timeout=0)
            except redis.ConnectionError:
                self.disconnects += 1
        pubsub.close()
        client.close()


class _SlowConsumer:
    """A Kafka consumer processing at ``1 / per_msg`` messages a second."""

    def __init__(self, s: Scratch, topic, clock, per_msg, stop) -> None:
        self.s, self.topic, self.clock, self.per_msg, self.stop = s, topic, clock, per_msg, stop
        self.log = ReaderLog("group:slow")
        self.ready = threading.Event()
        self.group = s.group("slow")

    def run(self) -> None:
        consumer = self.s.consumer(self.topic, group_id=self.group, max_poll_records=100)
        now = self.clock.now()
        waiting = deque((0.0, r) for r in poll_until_assigned(consumer))
        self.ready.set()
        worker = Worker(1.0 / self.per_msg)
        done: dict = {}
        last_commit = 0.0
        while not self.stop.is_set():
            now = self.clock.now()
            while waiting:
                ready_at, r = waiting[0]
                finish = worker.finish_time(ready_at)
                if finish > now:
                    break
                waiting.popleft()
                worker.complete(finish)
                self.log.processed(message_id(r.value), finish)
                done[TopicPartition(r.topic, r.partition)] = r.offset + 1
            if now - last_commit > 0.2:
                commit_offsets(consumer, done)  # after processing
                done, last_commit = {}, now
            if len(waiting) < 50:  # pull more only when the local batch runs low
                for batch in consumer.poll(timeout_ms=10).values():
                    t = self.clock.now()
                    for r in batch:
                        # Ready since it was appended to the log (its CreateTime): the
                        # Python client's own fetch delays under CPU load are not counted.
                        ready = min(t, max(0.0, self.clock.from_wall(r.timestamp / 1000)))
                        waiting.append((ready, r))
            else:
                sleep_until(self.clock.at(now + 0.01))
        commit_offsets(consumer, done)
        consumer.close(autocommit=False)

"""Calibration: the simulator's timing parameters, measured on the real brokers.

A twin's simulator scenario needs a few numbers the theory leaves out: how long a message
takes from PUBLISH to a Redis subscriber, from ``send()`` to a Kafka consumer's ``poll()``,
how long a subscriber needs to reconnect and a consumer to rejoin its group, and how fast a
consumer that is *paced* at ``service_rate_per_s`` (:mod:`labs.pacing`) really processes on
this machine (other threads hold the GIL; at thousands of records a second the interpreter,
not the pacing, is the limit). None of them is typed in: :func:`calibrate` measures them in
two to four seconds, under the same kind of load as the lab (a publisher thread sending at
``rate_per_s`` to Redis and Kafka as the lab does, a subscriber thread reading), and returns a
:class:`Calibration` that the twin feeds into the scenario and records in its result.

Load on a shared machine changes from one second to the next, and a paced consumer's rate
with it. So the calibration also runs a :class:`PacingProbe` -- a bare pacing loop, no
work -- next to its consumer, and a twin whose lab consumer paces itself runs the same
probe during the real run (:meth:`Calibration.with_run_probe`): the simulator's service
time is the probe's time per record *during the run* plus the consumer's own cost per
record beyond the bare loop, measured here.

>>> Calibration.describe_fields()[0]
('pubsub_latency_ms', 'PUBLISH -> subscriber receives (median)')
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

import numpy as np
from kafka import TopicPartition
from kafka.errors import KafkaError
from redis.exceptions import RedisError

from labs.clients import (
    commit_offsets,
    poll_until_assigned,
    redis_client,
    sleep_until,
    subscribe,
    wait_until,
)
from labs.naming import scratch
from labs.pacing import Pacer
from labs.params import check_range
from labs.sending import MAX_BATCH, publish_batch
from labs.workload import message_id, payload

#: Kafka latency sampling: at least this long, then on until this many samples, at most this long.
LATENCY_WINDOW_S = 0.5
LATENCY_MIN_SAMPLES = 20
LATENCY_MAX_S = 10.0

#: The paced consumer's backlog: this many seconds of work at its nominal rate (at most
#: ``BACKLOG_MAX`` records). At thousands of records a second the consumer is limited by
#: the interpreter's time more than by its pacing, and a fraction of a second of it moves
#: with the machine's load; a second of it is a steadier figure.
BACKLOG_S = 1.0
BACKLOG_MAX = 10_000

#: A gap between two records of the paced consumer longer than this (and than
#: ``STALL_GAPS`` of its nominal gaps) is a stall, not per-record cost: 0.1 s is the
#: threshold past which kafka-python 3.x itself warns that a task "is blocking the event
#: loop". One such stall in the one-second backlog read as a 30 % slower consumer (1,757
#: instead of ~2,370 records/s at a nominal 2,500) and made a twin's catch-up 50 % too long.
STALL_S = 0.1
STALL_GAPS = 5

#: What each measured field means (also the order of the calibration table).
MEANING = {
    "pubsub_latency_ms": "PUBLISH -> subscriber receives (median)",
    "resubscribe_ms": "new Redis connection + SUBSCRIBE confirmed (median of 3)",
    "kafka_latency_ms": "send() -> consumer poll() returns it, at the publish rate (median)",
    "rejoin_ms": "new group member after a leave -> first record processed",
    "service_rate_per_s": "nominal (paced) consumer rate the measurement used",
    "effective_rate_per_s": "records/s the paced consumer really processed, under load",
    "service_overhead_ms": "per-record time beyond 1/service_rate_per_s",
    "stalled_ms": "the paced consumer's stalls (gaps over 0.1 s), left out of its rate",
    "probe_rate_per_s": "rate a bare pacing loop reached meanwhile (sleep overshoot only)",
    "run_probe_rate_per_s": "rate the same pacing loop reached during the real lab run",
    "run_rejoin_ms": "the real lab's consumer: end of its outage -> first record processed",
    "run_down_from_s": "the real lab's subscriber: its connection closed at (s into the run)",
    "run_down_for_s": "the real lab's subscriber: closed -> new SUBSCRIBE sent (s)",
    "run_resubscribe_ms": "the real lab's subscriber: new SUBSCRIBE sent -> confirmed",
    "duration_s": "wall time the whole measurement took",
}


@dataclass(frozen=True)
class Calibration:
    """Timing measured on the real brokers (see :data:`MEANING` for each field)."""

    pubsub_latency_ms: float
    resubscribe_ms: float
    kafka_latency_ms: float
    rejoin_ms: float
    service_rate_per_s: float
    effective_rate_per_s: float
    service_overhead_ms: float
    duration_s: float
    measured_at: str = ""
    probe_rate_per_s: float = float("nan")
    stalled_ms: float = float("nan")
    run_probe_rate_per_s: float = float("nan")
    run_rejoin_ms: float = float("nan")
    run_down_from_s: float = float("nan")
    run_down_for_s: float = float("nan")
    run_resubscribe_ms: float = float("nan")

    def service_ms(self, service_rate_per_s: float) -> float:
        """Mean time per record of a consumer paced at ``service_rate_per_s`` on this machine.

        Without a probe of the real run: the nominal ``1/rate`` plus the measured per-record
        overhead. With one (:meth:`with_run_probe`): the pacing loop's time per record during
        the run -- the machine's load at that moment -- plus the consumer's own per-record
        cost beyond a bare pacing loop, as measured in the calibration.
        """
        nominal = 1000.0 / service_rate_per_s
        if not (self.run_probe_rate_per_s > 0 and self.probe_rate_per_s > 0):
            return nominal + max(self.service_overhead_ms, 0.0)
        own = 1000.0 / self.effective_rate_per_s - 1000.0 / self.probe_rate_per_s
        return max(nominal, 1000.0 / self.run_probe_rate_per_s + max(own, 0.0))

    def with_run_probe(self, rate_per_s: float) -> Calibration:
        """This calibration with the pacing probe's rate during the real run."""
        return replace(self, run_probe_rate_per_s=float(rate_per_s))

    def with_run_rejoin(self, rejoin_ms: float) -> Calibration:
        """This calibration with the rejoin the real lab's consumer showed during its run."""
        return replace(self, run_rejoin_ms=float(rejoin_ms))

    def with_run_outage(
        self, down_from_s: float, down_for_s: float, resubscribe_ms: float
    ) -> Calibration:
        """This calibration with the outage the real lab's subscriber really had: when its
        connection closed, how long until the new SUBSCRIBE went out, and how long that took
        to be confirmed. A thread that wakes late on a busy machine (a stall of a few hundred
        ms) moves both ends of the outage; the simulator's subscriber then misses the same
        sends."""
        return replace(
            self,
            run_down_from_s=float(down_from_s),
            run_down_for_s=float(down_for_s),
            run_resubscribe_ms=float(resubscribe_ms),
        )

    @property
    def subscriber_down_for_run(self) -> tuple[float, float] | None:
        """The real subscriber's outage ``(from_s, for_s)`` when the run measured it."""
        if math.isfinite(self.run_down_from_s) and math.isfinite(self.run_down_for_s):
            return (self.run_down_from_s, self.run_down_for_s)
        return None

    @property
    def resubscribe_for_run_ms(self) -> float:
        """The resubscribe time the simulator uses: the real run's own when measured."""
        if math.isfinite(self.run_resubscribe_ms):
            return self.run_resubscribe_ms
        return self.resubscribe_ms

    @property
    def rejoin_for_run_ms(self) -> float:
        """The rejoin time the simulator uses: the real run's own when it was measured (a
        group join varies from one try to the next by more than the tolerances), else the
        calibration's."""
        return self.run_rejoin_ms if math.isfinite(self.run_rejoin_ms) else self.rejoin_ms

    def as_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def describe_fields() -> list[tuple[str, str]]:
        return list(MEANING.items())

    def table(self) -> str:
        lines = [f"calibration (measured on the real brokers at {self.measured_at}):"]
        for name, meaning in MEANING.items():
            lines.append(f"  {name:<22} {getattr(self, name):>10.3f}  {meaning}")
        return "\n".join(lines)


def unmeasured() -> Calibration:
    """A calibration with nothing measured: for twins whose counts depend on the order of
    events only, not on any broker timing."""
    nan = float("nan")
    return Calibration(
        pubsub_latency_ms=nan,
        resubscribe_ms=nan,
        kafka_latency_ms=nan,
        rejoin_ms=nan,
        service_rate_per_s=nan,
        effective_rate_per_s=nan,
        service_overhead_ms=nan,
        duration_s=0.0,
        measured_at=time.strftime("%Y-%m-%d %H:%M:%S"),
    )


def calibrate(
    *, rate_per_s: float = 200.0, service_rate_per_s: float = 400.0, records: int | None = None
) -> Calibration:
    """Measure the twin's timing parameters on the real brokers (two to four seconds).

    ``rate_per_s`` is the publish rate applied as background load (and at which the Kafka
    latency is measured); ``service_rate_per_s`` the pace of the consumer whose effective
    rate is measured on a backlog of ``records`` records (default: :data:`BACKLOG_S` of work).
    """
    check_range("rate_per_s", rate_per_s, 1, 5000)
    check_range("service_rate_per_s", service_rate_per_s, 10, 20000)
    n_backlog = int(
        records
        if records is not None
        else max(50, min(BACKLOG_MAX, BACKLOG_S * service_rate_per_s))
    )
    check_range("records", n_backlog, 10, 100000)
    started = time.monotonic()
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    with scratch("twincal") as s:
        channel = s.redis_name("calibration")
        pubsub_ms, resub_ms = _redis_timing(s.redis, channel)
        topic = s.topic("calibration")
        producer = s.producer(acks="all", enable_idempotence=True)
        load = _Load(s.redis, channel, producer, topic, rate_per_s)
        try:
            return _kafka_timing(
                s,
                topic,
                producer,
                load,
                n_backlog,
                service_rate_per_s,
                pubsub_ms,
                resub_ms,
                started,
                stamp,
            )
        finally:
            load.stop()


def _kafka_timing(
    s, topic, producer, load, n_backlog, service_rate_per_s, pubsub_ms, resub_ms, started, stamp
) -> Calibration:
    """The Kafka measurements (latency, rejoin, paced rate) and the finished calibration."""
    tp = TopicPartition(topic, 0)
    # 1. Latency at the publish rate: a member polls as the lab's consumer does.
    consumer = s.consumer(topic, group_id=s.group("calibration-a"))
    poll_until_assigned(consumer)
    load.start()
    latencies: list[float] = []
    # Half a second of samples; on a loaded machine the first records can take longer to
    # come back, so keep polling (up to LATENCY_MAX_S) until there are LATENCY_MIN_SAMPLES.
    begun = time.monotonic()
    while (elapsed := time.monotonic() - begun) < LATENCY_WINDOW_S or (
        len(latencies) < LATENCY_MIN_SAMPLES and elapsed < LATENCY_MAX_S
    ):
        done = {}
        for batch in consumer.poll(timeout_ms=20).values():
            now = time.monotonic()
            for r in batch:
                sent = load.sent_at.get(message_id(r.value))
                if sent is not None:
                    latencies.append(now - sent)
                done[tp] = r.offset + 1
        commit_offsets(consumer, done)
    load.pause()
    consumer.close(autocommit=False)  # the member leaves, as the lab's consumer does
    if not latencies:
        raise RuntimeError(
            f"calibration got no Kafka latency sample: no record sent at {load.rate:g} msg/s "
            f"came back to the consumer within {LATENCY_MAX_S:g} s (broker or machine "
            f"overloaded); re-run the twin when the load is lower"
        )

    # 2. A backlog while nobody reads, then a new member (of a fresh group, so no
    # departed member can hold up its join): join time and paced rate.
    base = load.count + 1_000_000
    for i in range(n_backlog):
        producer.send(topic, value=payload(base + i))
    producer.flush(timeout=10)
    load.resume()
    left_at = time.monotonic()
    consumer = s.consumer(topic, group_id=s.group("calibration-b"))
    pending = [r for r in poll_until_assigned(consumer) if message_id(r.value) >= base]
    per_msg = 1.0 / service_rate_per_s
    done_at: list[float] = []  # when each record was processed
    probe = PacingProbe(service_rate_per_s)
    pacer = Pacer(service_rate_per_s)  # the lab consumer's schedule (labs.pacing)
    pending = deque(pending)
    first_at = None
    processed = 0
    ready_at = time.monotonic()
    idle_deadline = time.monotonic() + 5.0 + 2 * n_backlog * per_msg
    offsets: dict = {}
    while processed < n_backlog and time.monotonic() < idle_deadline:
        if not pending:
            for batch in consumer.poll(timeout_ms=20).values():
                pending.extend(r for r in batch if message_id(r.value) >= base)
            ready_at = time.monotonic()
            commit_offsets(consumer, offsets)
            offsets = {}
            continue
        record = pending.popleft()
        if first_at is None:
            first_at = ready_at = time.monotonic()
            probe.start()
        due = pacer.due(ready_at)
        if pacer.sleep_s(due, time.monotonic()):
            sleep_until(due)
        processed += 1
        offsets[tp] = record.offset + 1
        done_at.append(time.monotonic())
    probe_rate = probe.stop()
    consumer.close(autocommit=False)
    if processed < n_backlog or first_at is None:
        raise RuntimeError(
            f"calibration: the paced consumer processed {processed} of {n_backlog} records"
        )
    effective, stalled = paced_rate(done_at, service_rate_per_s)
    return Calibration(
        pubsub_latency_ms=pubsub_ms,
        resubscribe_ms=resub_ms,
        kafka_latency_ms=1000.0 * statistics.median(latencies),
        rejoin_ms=1000.0 * (first_at - left_at),
        service_rate_per_s=float(service_rate_per_s),
        effective_rate_per_s=effective,
        service_overhead_ms=1000.0 * (1.0 / effective - per_msg),
        duration_s=time.monotonic() - started,
        measured_at=stamp,
        probe_rate_per_s=probe_rate,
        stalled_ms=1000.0 * stalled,
    )


def paced_rate(done_at: list[float], service_rate_per_s: float) -> tuple[float, float]:
    """``(records/s, stalled s)`` of a consumer paced at ``service_rate_per_s`` that
    processed records at the instants ``done_at``: records per second of its working time,
    a stall -- a gap longer than :data:`STALL_S` and :data:`STALL_GAPS` nominal gaps --
    left out and returned apart. A stall is an event (a blocked client loop, a collector
    pass), not a cost of each record; counted in, one stall of the calibration's second
    would decide the simulator's service rate.

    >>> paced_rate([0.0, 0.001, 0.002, 0.003], 1000.0)
    (1000.0, 0.0)
    >>> rate, stalled = paced_rate([0.0, 0.001, 0.301, 0.302], 1000.0)
    >>> round(rate), round(stalled, 3)
    (1000, 0.3)
    """
    if len(done_at) < 2:
        return float(service_rate_per_s), 0.0
    gaps = np.diff(np.asarray(done_at, dtype=float))
    stall = gaps > max(STALL_S, STALL_GAPS / service_rate_per_s)
    if stall.all():  # no working time to tell stalls from: the plain rate, no stall
        stall[:] = False
    work = float(gaps[~stall].sum())
    rate = gaps[~stall].size / work if work > 0 else float(service_rate_per_s)
    return float(rate), float(gaps[stall].sum())


def _redis_timing(client, channel: str) -> tuple[float, float]:
    """(PUBLISH -> receive median ms, reconnect + SUBSCRIBE median ms)."""
    resub = []
    pubsub = None
    for _ in range(3):
        if pubsub is not None:
            pubsub.close()
        t0 = time.monotonic()
        sub_client = redis_client()
        pubsub = subscribe(sub_client, channel)
        resub.append(time.monotonic() - t0)
    lat = []
    for i in range(30):
        t0 = time.monotonic()
        client.publish(channel, payload(i))
        msg = wait_until(
            lambda: _message(pubsub), timeout_s=2, what="a calibration message", interval_s=0
        )
        if msg is not None:
            lat.append(time.monotonic() - t0)
    pubsub.close()
    return 1000.0 * statistics.median(lat), 1000.0 * statistics.median(resub)


def _message(pubsub):
    msg = pubsub.get_message(timeout=0.01)
    return msg if msg is not None and msg["type"] == "message" else None


class _Load:
    """Background load like a lab's: a publisher thread sending ``rate_per_s`` messages a
    second to a Redis channel and a Kafka topic (open-loop, in batches as the lab sends),
    and a subscriber thread reading the channel."""

    def __init__(self, redis, channel, producer, topic, rate_per_s: float) -> None:
        self.redis, self.channel, self.producer, self.topic = redis, channel, producer, topic
        self.rate = rate_per_s
        self.sent_at: dict[int, float] = {}
        self.count = 0
        self._go = threading.Event()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._publish, daemon=True, name="twincal-publisher"),
            threading.Thread(target=self._subscribe, daemon=True, name="twincal-subscriber"),
        ]

    def start(self) -> None:
        for th in self._threads:
            th.start()
        self._go.set()

    def pause(self) -> None:
        self._go.clear()

    def resume(self) -> None:
        self._go.set()

    def stop(self) -> None:
        self._stop.set()
        self._go.set()
        for th in self._threads:
            th.join(5)

    def _publish(self) -> None:
        """Send as the lab does (:mod:`labs.sending`): at each wake-up, every message due
        by then, as one Redis pipeline and as many Kafka sends."""
        step = 1.0 / self.rate
        t0, sent = time.monotonic(), 0
        while not self._stop.is_set():
            if not self._go.is_set():
                self._go.wait(5)
                t0, sent = time.monotonic(), 0
                continue
            sleep_until(t0 + (sent + 1) * step)
            now = time.monotonic()
            k = min(MAX_BATCH, max(1, int((now - t0) / step) - sent))
            ids = range(self.count, self.count + k)
            for i in ids:
                self.sent_at[i] = now
            self.count += k
            sent += k
            try:
                publish_batch(self.redis, self.channel, ids)
                for i in ids:
                    self.producer.send(self.topic, value=payload(i))
            except (RedisError, KafkaError):
                # A broker went away: the load stops here, and the calibration (or the broker
                # watch of labs.naming.scratch) says so in one line, without a thread traceback.
                return

    def _subscribe(self) -> None:
        client = redis_client()
        pubsub = subscribe(client, self.channel)
        while not self._stop.is_set():
            pubsub.get_message(timeout=0.02)
        pubsub.close()
        client.close()


class PacingProbe:
    """A bare pacing loop in a thread: the lab consumers' :class:`~labs.pacing.Pacer` on an
    endless backlog, with no work. The rate it reaches shows whether this machine gives a
    paced thread the time it asks for right now (``stop()`` returns it, records per
    second)."""

    def __init__(self, rate_per_s: float) -> None:
        self.per_msg = 1.0 / rate_per_s
        self.rate_per_s = rate_per_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._count = 0
        self._t0 = self._t1 = 0.0

    def start(self) -> PacingProbe:
        self._thread = threading.Thread(target=self._run, daemon=True, name="pacing-probe")
        self._thread.start()
        return self

    def _run(self) -> None:
        pacer = Pacer(self.rate_per_s)
        self._t0 = ready_at = time.monotonic()
        while not self._stop.is_set():
            due = pacer.due(ready_at)
            if pacer.sleep_s(due, time.monotonic()):
                sleep_until(due)
            self._count += 1
            self._t1 = time.monotonic()

    def stop(self) -> float:
        """Stop the loop; the records per second it reached (nominal rate if it never ran)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        span = self._t1 - self._t0
        return self._count / span if self._count > 1 and span > 0 else self.rate_per_s

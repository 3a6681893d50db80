"""Throughput: the latency-throughput envelope of Redis Pub/Sub, Redis Streams and Kafka.

Each configuration (:class:`~labs.experiments.throughput.Config`: system, client, Kafka's
``acks``, ``linger.ms``, ``compression.type``, message size) gets a link of its own
(:mod:`labs.transports`: fresh channel, stream or topic names from :func:`labs.naming.scratch`),
a receiving thread, and one warm-up message that must come back. Then it is loaded at each
rate of a geometric series, lowest first, until the first rate it does not sustain.

One point (:meth:`Session.point`) is open-loop constant-rate load for ``point_s`` seconds:
message ``i`` is *intended* at ``t0 + i / rate`` and carries that time in its payload; the
sending thread sends whatever is due at once (:func:`labs.sending.due_batches`), never
waiting for a reply. The receiving thread computes ``receive time - intended time`` on the
same monotonic clock (:class:`labs.recording.Clock`), so a sender that fell behind, a queue
that grew or a consumer that stopped all count in the latency -- no coordinated omission.
Every point is bounded: sending stops ``SEND_SLACK`` after its window even if messages are
still due (those are never sent), the drain waits at most :data:`DRAIN_S`; a message not
received by then counts as not received, with an infinite latency in the percentiles.

Percentiles (p50, p95, p99, p99.9) are numpy's ``inverted_cdf`` over every planned message
of the point: each is a latency some message really had (or infinite), never an
interpolation. With at most a few hundred thousand messages per point all samples are kept,
so no histogram's bucket rounding is needed. A point *meets the SLO* when the achieved rate
(:func:`delivered_rate`: the messages that arrived by the end of the window plus the
sender's slack, per second over which they were sent, at least the window's length; and at
most the rate they arrived at, so a receiver that fell behind and caught up in the slack
does not count as keeping up) is at
least :data:`SUSTAINED_SHARE` of the target and p99 is within the SLO; a curve's sustainable
rate is the highest such target rate. A point is *saturated* -- and its configuration's
sweep ends there -- when it delivers less than that share or even its median exceeds the
SLO: the queue grew through the point. (A stall of the loaded machine lifts the tail of one
point, not its median, and does not end a sweep.)

The sending side records when the broker acknowledged each message (the reply to PUBLISH or
XADD, Kafka's produce response: ``ack_p50_ms``, ``ack_p99_ms``, also from the intended
time). That is where ``acks`` differs: a consumer reads a Kafka record only once it is
below the high watermark, i.e. replicated to every in-sync replica, whatever the
producer's ``acks`` -- so ``acks=all`` costs the *producer* the wait for the followers,
and at low rates the end-to-end latency hardly changes. But a broker answers one request
of a connection at a time: at a rate where the producer's requests queue behind those waits
(here about 1000 msg/s with ``linger.ms=0``) the end-to-end latency rises too. On a single
broker the in-sync replicas are the leader alone and ``acks=all`` costs nothing; on the
3-broker cluster (``Config(replicas=3)``, topic with ``min.insync.replicas=2``) it costs a
follower's fetch.

``consumer_pause_ms`` stops the receiving thread once in each point (at half its window):
the messages sent meanwhile wait in the broker (or the subscriber's socket) and their
latency, measured from their intended time, shows the pause in p99.9 and the maximum.
"""

from __future__ import annotations

import contextlib
import gc
import math
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

import sim.progress as progress
from labs.clients import START_HINT, WaitTimeout
from labs.experiments.throughput import (
    CONFIGS,
    MAX_BYTES_PER_S,
    RATE_RANGE,
    THROUGHPUT,
    Config,
    rates,
)
from labs.naming import Scratch, scratch
from labs.params import check_range
from labs.recording import Clock
from labs.sending import MAX_BATCH, due_batches
from labs.steal import StealMeter
from labs.throughput_result import Curve, Point, ThroughputResult, curve_of, described
from labs.transports import Link, open_link
from labs.workload import lab_rngs
from sim.models.throughput import SLACK, delivered_rate

__all__ = [
    "CONFIGS",
    "Config",
    "Curve",
    "Point",
    "Session",
    "ThroughputResult",
    "cluster_for",
    "measure_point",
    "run_throughput",
]

#: Every payload starts with (point, message id, intended run time).
HEADER = struct.Struct("<iqd")
#: Sending stops this share of ``point_s`` (plus 0.1 s) after the window, even with messages
#: due: the slack :func:`delivered_rate` counts arrivals in (one declaration, the simulator's).
SEND_SLACK = SLACK
#: Seconds the drain may wait after sending for messages still on their way.
DRAIN_S = 1.0
#: A point sustains its rate when it delivers at least this share of it (and meets the SLO).
SUSTAINED_SHARE = 0.95
#: Seconds the warm-up message may take to come back.
WARM_UP_S = 15.0
#: Percentiles reported, and their Point fields.
PERCENTILES = {"p50_ms": 50.0, "p95_ms": 95.0, "p99_ms": 99.0, "p999_ms": 99.9}


def padding(size_bytes: int, seed: int) -> bytes:
    """Filler after the header: letters drawn from 16 (about half compressible, like text)."""
    rng = lab_rngs(seed, 1)[0]
    letters = np.frombuffer(b"abcdefghijklmnop", np.uint8)
    return rng.choice(letters, max(0, size_bytes - HEADER.size)).tobytes()


@dataclass
class _Recording:
    """What the receiving thread records for one point (index ``index``, ``n`` planned)."""

    index: int
    n: int
    pause_at: float | None = None
    pause_s: float = 0.0
    latency: np.ndarray = field(init=False)
    ack: np.ndarray = field(init=False)
    sent_at: np.ndarray = field(init=False)
    received: int = 0
    #: Receive calls that brought at least one message of this point.
    batches: int = 0
    cpu_start: float | None = None
    cpu_now: float = 0.0

    def __post_init__(self) -> None:
        self.latency = np.full(self.n, np.nan)
        self.ack = np.full(self.n, np.nan)  # intended send -> the broker's acknowledgement
        self.sent_at = np.full(self.n, np.nan)  # run time the client took it (NaN: never)


class _Receiver(threading.Thread):
    """Receives on ``link`` and records into :attr:`current` until stopped."""

    def __init__(self, link: Link, clock: Clock) -> None:
        super().__init__(name="throughput-receiver", daemon=True)
        self.link, self.clock = link, clock
        self.current: _Recording | None = None
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self._once()
        except BaseException as exc:  # noqa: BLE001 - reported by the sending thread
            self.error = exc

    def _once(self) -> None:
        rec = self.current
        if rec is not None:
            if rec.cpu_start is None:
                rec.cpu_start = time.thread_time()
            if rec.pause_at is not None and self.clock.now() >= rec.pause_at:
                rec.pause_at = None
                time.sleep(rec.pause_s)  # the consumer stops, on purpose
        payloads = self.link.receive(0.02)
        now = self.clock.now()
        rec = self.current  # the point may have started while this thread waited
        if rec is None:
            return
        before = rec.received
        for body in payloads:
            index, i, intended = HEADER.unpack_from(body)
            if index == rec.index and 0 <= i < rec.n and math.isnan(rec.latency[i]):
                rec.latency[i] = now - intended
                rec.received += 1
        rec.batches += rec.received > before
        rec.cpu_now = time.thread_time()


def spread(durations: Sequence[float]) -> float:
    """The spread of durations as a coefficient of variation read off the body, not the
    tail: ``(p90 - p10) / (2.563 x median)`` -- for a normal distribution its std / mean;
    the rare long ones are stalls, measured apart (NaN for fewer than 10)."""
    if len(durations) < 10:
        return math.nan
    p10, p50, p90 = np.percentile(durations, [10, 50, 90])
    return float((p90 - p10) / (2.563 * p50)) if p50 > 0 else math.nan


class Session:
    """One configuration's link and receiving thread; :meth:`point` measures one rate."""

    def __init__(self, s: Scratch, config: Config, *, seed: int = 0, label: str = "c0") -> None:
        self.config = config
        self.clock = Clock()
        self.sending: _Recording | None = None
        self.link = open_link(s, config, label).attach(self.clock, self._acked)
        self.pad = padding(config.size_bytes or 0, seed)
        self.receiver = _Receiver(self.link, self.clock)
        self.receiver.start()
        self.points = 0
        try:
            self._warm_up()
        except BaseException:
            self.close()
            raise

    def _acked(self, body: bytes, t: float) -> None:
        rec = self.sending
        index, i, intended = HEADER.unpack_from(body)
        if rec is not None and index == rec.index and 0 <= i < rec.n:
            rec.ack[i] = t - intended

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.receiver.stop.set()
        self.receiver.join(5.0)
        self.link.close()

    def _check(self) -> None:
        if self.receiver.error is not None:
            raise self.receiver.error

    def _warm_up(self) -> None:
        """One message through, so connections, metadata and subscriptions are ready; then
        the garbage of the clients' setup is collected, not by a full collection inside the
        first point (kafka-python: 47-61 ms there in 2 runs of 2, none in later points)."""
        rec = _Recording(0, 1)
        self.receiver.current = rec
        deadline = self.clock.now() + WARM_UP_S
        while rec.received == 0:
            self._check()
            self.link.send([HEADER.pack(0, 0, self.clock.now()) + self.pad])
            self.link.flush(1.0)
            wait_end = min(deadline, self.clock.now() + 1.0)
            while rec.received == 0 and self.clock.now() < wait_end:
                time.sleep(0.005)
            if rec.received == 0 and self.clock.now() >= deadline:
                raise WaitTimeout(
                    f"throughput lab: no message came back through {self.config.name} within "
                    f"{WARM_UP_S:g} s; if the brokers are down, {START_HINT}"
                )
        self.receiver.current = None
        gc.collect()

    def point(
        self,
        rate_per_s: float,
        point_s: float,
        *,
        slo_p99_ms: float,
        consumer_pause_ms: float = 0,
        max_batch: int = MAX_BATCH,
    ) -> Point:
        """Open-loop load at ``rate_per_s`` for ``point_s`` seconds (see the module docstring);
        the send loop takes at most ``max_batch`` messages a wake-up."""
        self.points += 1
        n = max(1, round(rate_per_s * point_s))
        t0 = self.clock.now() + 0.005
        plan = t0 + np.arange(n) / rate_per_s
        rec = _Recording(self.points, n)
        if consumer_pause_ms > 0:
            rec.pause_at, rec.pause_s = t0 + point_s / 2, consumer_pause_ms / 1000.0
        self.receiver.current = self.sending = rec
        send_end = t0 + point_s * (1 + SEND_SLACK) + 0.1
        sent, cpu0, proc0 = 0, time.thread_time(), time.process_time()
        requests0 = self.link.requests
        wake_s: list[float] = []
        for start, stop, now in due_batches(plan, self.clock, max_batch=max_batch):
            bodies = [HEADER.pack(rec.index, i, plan[i]) + self.pad for i in range(start, stop)]
            taken = self.link.send(bodies)
            rec.sent_at[start : start + taken] = now
            sent += taken
            wake_s.append(self.clock.now() - now)
            if now > send_end:
                break
        send_cpu = time.thread_time() - cpu0
        self.link.flush(DRAIN_S)
        drain_end = self.clock.now() + DRAIN_S
        while rec.received < sent and self.clock.now() < drain_end:
            self._check()
            time.sleep(0.005)
        self.receiver.current = self.sending = None
        self._check()
        proc_cpu = time.process_time() - proc0
        latency_ms = np.where(np.isnan(rec.latency), np.inf, rec.latency * 1000.0)
        received = rec.received
        pct = {
            k: float(np.percentile(latency_ms, q, method="inverted_cdf"))
            for k, q in PERCENTILES.items()
        }
        ack_ms = np.where(np.isnan(rec.ack), np.inf, rec.ack * 1000.0)
        acks = {
            f"ack_{k}": float(np.percentile(ack_ms, PERCENTILES[k], method="inverted_cdf"))
            for k in ("p50_ms", "p99_ms")
        }
        achieved = delivered_rate(plan + rec.latency, rec.sent_at, t0, point_s)
        delivered = achieved >= SUSTAINED_SHARE * rate_per_s
        return Point(
            **described(self.config),
            target_rate_per_s=float(rate_per_s),
            planned=n,
            sent=sent,
            received=received,
            achieved_rate_per_s=achieved,
            **pct,
            max_ms=float(latency_ms.max()),
            **acks,
            send_cpu_us_per_msg=1e6 * send_cpu / max(sent, 1),
            recv_cpu_us_per_msg=1e6
            * (rec.cpu_now - (rec.cpu_start or rec.cpu_now))
            / max(received, 1),
            process_cpu_us_per_msg=1e6 * proc_cpu / max(received, 1),
            consumer_pause_ms=float(consumer_pause_ms),
            meets_slo=delivered and pct["p99_ms"] <= slo_p99_ms,
            saturated=not delivered or pct["p50_ms"] > slo_p99_ms,
            send_busy_us_per_wake=1e6 * sum(wake_s) / max(len(wake_s), 1),
            send_wakes=len(wake_s),
            send_busy_cv=spread(wake_s),
            recv_batches=rec.batches,
            send_requests=self.link.requests - requests0,
        )

    def sweep(
        self, series, point_s: float, *, slo_p99_ms: float, consumer_pause_ms: float = 0
    ) -> tuple[Curve, list[Point]]:
        """The points at ``series`` (lowest first) up to the first saturated one -- or the
        last rate, or the first over :data:`MAX_BYTES_PER_S` -- and their curve."""
        points: list[Point] = []
        ended_by = "last rate"
        for rate in series:
            if rate * (self.config.size_bytes or 0) > MAX_BYTES_PER_S:
                ended_by = "bytes cap"  # beyond what memory and disk should carry
                break
            with progress.step(f"{self.config.name} at {rate:g} msg/s"):
                p = self.point(
                    rate, point_s, slo_p99_ms=slo_p99_ms, consumer_pause_ms=consumer_pause_ms
                )
            points.append(p)
            if p.saturated:
                ended_by = "saturated"
                break
        return curve_of(self.config, points, ended_by), points


@contextlib.contextmanager
def cluster_for(configs: Sequence[Config]) -> Iterator[None]:
    """The 3-broker cluster up while the block runs if a configuration of ``configs`` has
    ``replicas=3``; the nodes it started are stopped afterwards (as the durability lab)."""
    if not any(c.replicas > 1 for c in configs):
        yield
        return
    from labs.stack import cluster

    was_running = {node.name for node in cluster.nodes() if node.pid() is not None}
    try:
        if len(was_running) < len(cluster.nodes()):
            with progress.step("starting the 3-broker cluster"):
                cluster.up()
        yield
    finally:
        for node in reversed(cluster.nodes()):  # stop what this run started
            if node.name not in was_running:
                cluster.stop(node.name)


def measure_point(
    config: Config,
    rate_per_s: float,
    point_s: float = 1.0,
    size_bytes: int = 100,
    *,
    slo_p99_ms: float = 50.0,
    consumer_pause_ms: float = 0.0,
    seed: int = 0,
) -> Point:
    """One point on fresh names of its own (a session, a warm-up, the point, cleanup)."""
    THROUGHPUT.params.select("slo_p99_ms", "point_s", "size_bytes").check(
        dict(slo_p99_ms=slo_p99_ms, point_s=point_s, size_bytes=size_bytes)
    )
    check_range("rate_per_s", rate_per_s, RATE_RANGE[0], RATE_RANGE[1])
    config = config.sized(size_bytes)
    with cluster_for([config]), scratch("throughput") as s, Session(s, config, seed=seed) as ses:
        return ses.point(
            rate_per_s, point_s, slo_p99_ms=slo_p99_ms, consumer_pause_ms=consumer_pause_ms
        )


@progress.task("throughput lab on the real brokers")
def run_throughput(
    *,
    configs: str = "default",
    slo_p99_ms: float = 50.0,
    point_s: float = 1.0,
    min_rate_per_s: float = 250.0,
    max_rate_per_s: float = 128000.0,
    steps: int = 10,
    size_bytes: int = 100,
    consumer_pause_ms: float = 0.0,
    seed: int = 0,
) -> ThroughputResult:
    """Sweep every configuration of the set ``configs``; see the module docstring."""
    params = THROUGHPUT.check(locals())  # ranges and defaults: labs/experiments/throughput.py
    series = rates(**params)
    chosen = [c.sized(size_bytes) for c in CONFIGS[configs]]
    t_start = time.monotonic()
    points: list[Point] = []
    curves: list[Curve] = []
    with (
        cluster_for(chosen),
        scratch("throughput") as s,
        progress.task("configurations", total=len(chosen), unit="configs") as bar,
    ):
        for k, config in enumerate(chosen):
            with progress.step(config.name), Session(s, config, seed=seed, label=f"c{k}") as ses:
                meter = StealMeter()
                curve, mine = ses.sweep(
                    series, point_s, slo_p99_ms=slo_p99_ms, consumer_pause_ms=consumer_pause_ms
                )
                curve = replace(curve, steal_share=meter.share())
            points += mine
            curves.append(curve)
            bar.advance()
    return ThroughputResult(
        seed=seed,
        params=params,
        settings={
            "run_id": s.run_id,
            "kafka.partitions": 1,
            "kafka.replication_factor": 1,
            "kafka.enable_idempotence": False,
            "kafka.consumer": "assigned partition 0, no group",
            "streams.read": "XREADGROUP COUNT 1000 BLOCK, XACK per batch",
            "latency": "receive time - intended send time (one monotonic clock)",
            "percentiles": "numpy inverted_cdf over every planned message (unreceived = inf)",
            "meets_slo": f"achieved >= {SUSTAINED_SHARE:g} x target and p99 <= slo_p99_ms",
            "saturated": f"achieved < {SUSTAINED_SHARE:g} x target or p50 > slo_p99_ms",
            "achieved": f"arrived by {1 + SEND_SLACK:g} x point_s, per second of their sending"
            ", at most their arrival rate",
            "drain_s": DRAIN_S,
            "max_bytes_per_s": MAX_BYTES_PER_S,
        },
        points=tuple(points),
        curves=tuple(curves),
        wall_s=time.monotonic() - t_start,
    )

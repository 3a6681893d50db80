"""Open-loop load through a client's bottleneck thread: latency percentiles against the
offered rate, and the rate where the client saturates.

The throughput lab (``labs.throughput``) sends at a constant rate from one Python thread and
reads from another, and measures each message's latency from the instant it was *due*
(not from when the busy thread got round to it). This module predicts that curve from
what the lab measured at low rates, with three ingredients:

- **The low-rate latency** (:class:`LatencyShape`): at a low rate nothing queues, so the
  measured distribution is the path's own time -- client, network, broker, client. Its body
  (up to the quantile :data:`BODY`) is drawn for every message as its *transit* time.
- **Stalls**: its tail above the body is time the client's thread could not run (the OS
  scheduled something else, another thread held the GIL, the collector ran). A message due
  during a stall waits for its end, so at a low rate the latency excess is the *residual* of
  a stall at a random instant. For stalls starting as a Poisson process (rate ``g``) with
  lengths ``D``, the residual's density is ``f(x) = g P(D > x)`` (the renewal identity):
  the stall length's survival function is the measured tail's density, normalised
  (:meth:`LatencyShape.stalls`). The simulator draws those stalls on the timeline; unlike
  an excess drawn per message, a stall delays *every* message due during it, and the
  backlog it leaves drains at ``mu - lambda`` -- which is what makes p99 climb long
  before the mean rate reaches the capacity.
- **The bottleneck thread's costs** (:class:`ClientCosts`): each wake-up of the send loop
  takes every message due by then (at most ``max_batch``, as ``labs.sending.due_batches``
  does) and spends ``per_batch_us + k * per_message_us`` on a batch of ``k``. While the
  thread keeps up, batches are single messages; once it falls behind they grow, and the
  per-batch cost is shared -- the client's own batching.
- **One GIL, cold wake-ups** (:meth:`ClientCosts.from_wake_ups`): the costs are what the
  lab measured as the sending thread's wall time. The sending and the receiving thread
  (and kafka-python's own I/O thread) share one interpreter lock, so a wake-up of the send
  loop lasts its own work, the round trip it waits for (a Redis reply), the lock handed to
  the receiving thread for the message it caused and back -- and it is *cold* when the
  thread slept before it: this machine's idle vCPUs halt at once (the ``haltpoll`` cpuidle
  driver with ``guest_halt_poll_ns`` = 0), and a halted one wakes ~100-150 us late. A
  wake-up of ``k`` messages costs ``b + k c``, plus ``w`` after a sleep: at the lowest
  rates every message pays ``w`` (it is in the low-rate latency); from ``1 / (b + w + c)``
  the loop sleeps only now and then, warm wake-ups come in and the median *drops* a
  little; from ``1 / (b + c)`` it never sleeps, batches form, and every message waits for
  the cycle under way and then its own (:func:`batch_cycle_s`) -- the latency body rises
  long before the capacity. In full batches the lock serialises every thread's work on a
  message: ``c``, the slope of the warm wake-ups up to a full batch, is close to the
  process's CPU per message, and the capacity about ``1 / c``.
The server works only between stalls: in "available time" ``tau(t) = t - (stalled time
before t)`` it is an ordinary batch server; departures are mapped back to real time.
A Kafka producer's ``linger_ms`` is one more batching step after the send call
(:func:`linger`). Seeded: the same model, rate and seed give the same numbers.

Theory. Without stalls a constant rate through a constant cost never queues (D/D/1) until
the gap between messages is shorter than one wake-up ``b + c``; from there the loop batches
in cycles of ``T = b / (1 - lambda c)`` (:func:`batch_cycle_s`), up to the drain rate
``K / (b + K c)`` (full batches of ``K``); a thread stalled a share ``s`` of the time
saturates at ``(1 - s)`` of that (:func:`capacity_per_s`; a busy thread is hardly
stalled -- the measured saturation is the full burst's rate -- so
:meth:`ClientCosts.from_wake_ups` scales the measured costs by ``1 - s``); a point counted
as the lab counts it (:func:`delivered_rate`) then delivers that. Below it, each
stall's backlog drains at ``mu - lambda``: the fluid view gives each percentile as a
higher low-rate percentile, plus the batching cycle's wait (:func:`theory_percentile`).
The tail above :data:`BODY` is all stall, so ``s = 1 - BODY`` -- a tenth of the time, in
short stalls mostly.

>>> shape = LatencyShape.from_percentiles(p50=1.0, p95=2.0, p99=4.0, p999=8.0, max_ms=10.0)
>>> model = ClientModel(shape, ClientCosts(per_message_us=100.0))
>>> round(capacity_per_s(model))
9000
>>> simulate_point(model, 200.0, duration_s=2.0, seed=1).saturated
False
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.core.queue import departures
from sim.core.validation import check_number
from sim.models.request_cycles import Cycle, batched, cycles_delay_s

#: The latency body: the low-rate distribution up to this quantile is transit time; above
#: it, time the client's thread was stalled.
BODY = 0.9
#: A point is saturated when it delivered less than this share of its offered rate.
SATURATED_SHARE = 0.95
#: A point's delivered rate counts what arrived by ``(1 + SLACK)`` times its length, per
#: second over which it was sent, and at most the rate it arrived at (:func:`delivered_rate`;
#: the lab's sender stops then too): overloaded, it delivers the capacity.
SLACK = 0.25
#: The percentiles reported (quantiles).
PERCENTILES = {"p50_ms": 0.5, "p95_ms": 0.95, "p99_ms": 0.99, "p999_ms": 0.999}


@dataclass(frozen=True)
class LatencyShape:
    """A latency distribution as a piecewise-linear quantile function: ``values_ms[j]`` is
    the quantile ``probs[j]`` (``probs`` from 0 to 1, both non-decreasing)."""

    probs: tuple[float, ...]
    values_ms: tuple[float, ...]

    def __post_init__(self) -> None:
        p, v = np.asarray(self.probs, float), np.asarray(self.values_ms, float)
        if p.size < 2 or p.size != v.size:
            raise ValueError('"probs" and "values_ms" must have the same length (at least 2).')
        if p[0] != 0.0 or p[-1] != 1.0 or np.any(np.diff(p) <= 0):
            raise ValueError('"probs" must increase from 0 to 1.')
        if np.any(v < 0) or np.any(np.diff(v) < 0):
            raise ValueError('"values_ms" must be non-negative and non-decreasing.')

    @classmethod
    def from_percentiles(
        cls,
        *,
        p50: float,
        p95: float,
        p99: float,
        p999: float,
        max_ms: float,
        min_ms: float | None = None,
    ) -> LatencyShape:
        """The shape through measured percentiles (sorted, so a noisy p99 below p95 cannot
        break it). Without ``min_ms`` the minimum is taken as half the median: only the
        body's upper part matters to the predictions."""
        values = [0.5 * p50 if min_ms is None else min_ms, p50, p95, p99, p999, max_ms]
        probs = (0.0, 0.5, 0.95, 0.99, 0.999, 1.0)
        return cls(probs, tuple(float(x) for x in np.maximum.accumulate(values)))

    @classmethod
    def from_samples(cls, samples_ms: Sequence[float], points: int = 201) -> LatencyShape:
        """The empirical quantile function of measured latencies, on ``points`` quantiles."""
        x = np.asarray(samples_ms, float)
        x = x[np.isfinite(x)]
        if x.size < 10:
            raise ValueError(f'"samples_ms" needs at least 10 finite latencies, got {x.size}.')
        probs = np.linspace(0.0, 1.0, points)
        return cls(tuple(probs), tuple(float(q) for q in np.quantile(x, probs)))

    def quantile(self, u: np.ndarray | float) -> np.ndarray:
        return np.interp(u, self.probs, self.values_ms)

    @property
    def body_ms(self) -> float:
        """The body's upper end: the quantile :data:`BODY`."""
        return float(self.quantile(BODY))

    def stalls(self) -> tuple[float, np.ndarray, np.ndarray]:
        """The stall process behind the tail: ``(rate per ms, lengths_ms, probabilities)``.

        The tail's excess ``x`` over the body has a piecewise-constant density ``f_j`` on
        each segment of the quantile function; the stall length's survival function is
        ``f(x) / f(0+)`` (made non-increasing: a noisy tail cannot raise it), so the length
        is ``x_{j+1}`` (a segment's end) with probability ``s_j - s_{j+1}``, and stalls
        start at ``f(0+)`` per ms."""
        p = np.asarray(self.probs, float)
        x = np.asarray(self.values_ms, float) - self.body_ms
        keep = p >= BODY
        p, x = (
            np.concatenate(([BODY], p[keep & (p > BODY)])),
            np.concatenate(([0.0], x[keep & (p > BODY)])),
        )
        width = np.diff(x)
        mass = np.diff(p)
        ok = width > 1e-9
        if not ok.any():
            return 0.0, np.zeros(0), np.zeros(0)
        density = np.where(ok, mass / np.where(ok, width, 1.0), np.inf)
        density = np.minimum.accumulate(density)  # the survival function never rises
        rate = float(density[ok][0])
        survival = density / rate
        survival = np.where(ok, np.minimum(survival, 1.0), np.nan)
        lengths, s = x[1:][ok], survival[ok]
        prob = s - np.append(s[1:], 0.0)
        return rate, lengths, prob / prob.sum()

    def stalled_share(self) -> float:
        """The share of time the thread is stalled: rate x mean stall length."""
        rate, lengths, prob = self.stalls()
        return float(min(rate * np.dot(lengths, prob), 0.99)) if lengths.size else 0.0


@dataclass(frozen=True)
class ClientCosts:
    """The bottleneck thread's time: ``per_batch_us + k * per_message_us`` for a batch of
    ``k`` messages (``k`` at most ``max_batch``), plus ``cold_us`` when the thread slept
    before the wake-up (its CPU went idle)."""

    per_message_us: float
    per_batch_us: float = 0.0
    max_batch: int = 64
    cold_us: float = 0.0

    def __post_init__(self) -> None:
        check_number(self, "per_message_us", 0.01, 1e6)
        check_number(self, "per_batch_us", 0.0, 1e6)
        check_number(self, "max_batch", 1, 100_000, integer=True)
        check_number(self, "cold_us", 0.0, 1e6)

    def wake_up_us(self, k: float = 1.0, *, slept: bool = True) -> float:
        """A wake-up's time with ``k`` messages, cold if the thread ``slept`` before it."""
        return self.per_batch_us + (self.cold_us if slept else 0.0) + k * self.per_message_us

    @classmethod
    def from_wake_ups(
        cls,
        *,
        cold: tuple[float, float],
        warm: tuple[float, float],
        full: tuple[float, float],
        stalled_share: float = 0.0,
        max_batch: int = 64,
    ) -> ClientCosts:
        """The costs from the sending thread's wake-ups, each ``(messages per wake-up, wall
        us per wake-up)``: ``cold`` at low rates (it slept before each), ``warm`` and
        ``full`` with every message due (it never sleeps), a few and a full batch at a
        time. The line through the two warm ones gives ``per_batch_us`` (at 0 messages)
        and ``per_message_us`` (its slope: in a full batch, the GIL's time for every
        thread's share of a message); what the cold wake-up costs more is ``cold_us``, no
        less than 0. A warm wake-up may cost *more* than a cold one: while the send loop
        never sleeps, the receiving thread works on the previous batch and holds the GIL
        in between (on a 2-vCPU AMD EPYC machine: 456 us for 2 messages warm, 319-453 us
        cold at 1,000-1,414 msg/s; the real send loop then took 458-468 us a wake-up for
        1.4-2.7 messages at 2,828-5,657 msg/s). Bounding the warm cost by the cold one, as
        an earlier version did, put the batching's onset and its cycle a quarter too low
        (Pub/Sub median 30-40 % low at 2,828-8,000 msg/s in 3 of 4 runs). The simulated
        thread works only between stalls, a share ``stalled_share`` of the time, the
        measured busy one was hardly stalled (the low-rate tail is mostly a *sleeping*
        thread woken late): every cost is scaled by ``1 - stalled_share``, so the capacity
        stays the full burst's rate.

        >>> c = ClientCosts.from_wake_ups(cold=(1.0, 270.0), warm=(2.0, 160.0),
        ...                               full=(64.0, 1400.0))
        >>> c.per_batch_us, c.per_message_us, c.cold_us, c.wake_up_us(3, slept=False)
        (120.0, 20.0, 130.0, 180.0)
        """
        for name, v in (("cold", cold), ("warm", warm), ("full", full)):
            if not (len(v) == 2 and np.all(np.isfinite(v)) and v[0] >= 1 and v[1] > 0):
                raise ValueError(f'"{name}" must be (messages >= 1, wall us > 0), got {v!r}.')
        if not full[0] > warm[0]:
            raise ValueError(f'"full" must batch more than "warm", got {full[0]} <= {warm[0]}.')
        check_number_arg("stalled_share", stalled_share, 0.0, 0.99)
        c = max((full[1] - warm[1]) / (full[0] - warm[0]), 0.01)
        cold_only = max(cold[1] - cold[0] * c, 0.0)
        warm_us = max(warm[1] - warm[0] * c, 0.0)
        scale = 1.0 - stalled_share
        return cls(
            per_message_us=max(scale * c, 0.01),
            per_batch_us=scale * warm_us,
            max_batch=max_batch,
            cold_us=scale * max(cold_only - warm_us, 0.0),
        )


@dataclass(frozen=True)
class ClientModel:
    """One configuration: its low-rate latency, its bottleneck costs and the producer's
    ``linger_ms`` (0: no producer batching beyond the send loop's)."""

    latency: LatencyShape
    costs: ClientCosts
    linger_ms: float = 0.0
    #: Messages that fill one producer batch (``batch.size / message size``).
    batch_messages: int = 160
    #: The stages after the send loop that batch in request cycles, in order.
    cycles: tuple[Cycle, ...] = ()
    #: The rate the low-rate latency was measured at: its messages already waited for the
    #: cycles as they run there (:func:`cycles_delay_s`).
    low_rate_per_s: float = 1000.0


@dataclass(frozen=True)
class SimPoint:
    """One offered rate, simulated: what was sent, at what rate it got through, and the
    latency percentiles from each message's due time."""

    target_rate_per_s: float
    sent: int
    achieved_rate_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    saturated: bool


def capacity_per_s(model: ClientModel) -> float:
    """The theory's saturation rate: full batches of ``K`` at ``b + K c`` each, while the
    thread is not stalled (see the module docstring) -- or a slower cycle's full cycles."""
    send = (1.0 - model.latency.stalled_share()) * drain_rate_per_s(model.costs)
    return min([send, *(cyc.drain_rate_per_s() for cyc in model.cycles)])


def drain_rate_per_s(costs: ClientCosts) -> float:
    """How fast the thread works off a backlog: full batches, ``K / (b + K c)``."""
    k = costs.max_batch
    return k / (1e-6 * (costs.per_batch_us + k * costs.per_message_us))


def batch_cycle_s(costs: ClientCosts, rate_per_s: float) -> float:
    """The theory of the send loop's batching under a constant rate ``lambda`` (no stalls):
    while a cold wake-up ``b + w + c`` is shorter than the gap ``1 / lambda`` every message
    has a wake-up to itself (0 returned: no batches); while a warm one ``b + c`` is, the
    thread still sleeps now and then (a mix of cold and warm wake-ups; 0 returned too).
    Beyond, it never sleeps: a cycle of ``T`` takes the ``lambda T`` messages due during
    the previous one, so ``T = b + lambda T c``, i.e. ``T = b / (1 - lambda c)`` (infinite
    from ``lambda c >= 1``).

    >>> c = ClientCosts(per_message_us=20.0, per_batch_us=200.0, cold_us=100.0)
    >>> batch_cycle_s(c, 4000.0), round(1e6 * batch_cycle_s(c, 16_000.0))
    (0.0, 294)
    """
    b, c = 1e-6 * costs.per_batch_us, 1e-6 * costs.per_message_us
    if rate_per_s * (b + c) <= 1.0:
        return 0.0
    return float("inf") if rate_per_s * c >= 1.0 else b / (1.0 - rate_per_s * c)


def theory_percentile(model: ClientModel, q: float, rate_per_s: float) -> float:
    """The fluid theory of a thread with Poisson stalls under a constant rate: a stall of
    ``D`` delays the messages due in the next ``D / (1 - rho)`` seconds, by ``D`` down to 0
    (the backlog drains at ``mu - lambda``), so the share of messages waiting more than
    ``x`` is the low-rate share divided by ``1 - rho``, ``rho = lambda / mu`` with ``mu``
    the drain rate. The quantile ``q`` at ``rate_per_s`` is therefore the low-rate quantile
    ``1 - (1 - q)(1 - rho)`` (infinite at ``rho >= 1``). Once the send loop never sleeps
    (:func:`batch_cycle_s`: cycles of ``T``), a message waits for the cycle under way to
    end (uniform up to ``T``) and then for its own, ``T`` -- less the one cold wake-up
    ``b + w + c`` the low-rate latency already holds: its quantile ``q`` adds
    ``(1 + q) T - (b + w + c)``. It neglects overlapping stalls, the transit's own spread,
    the sum of two delays being no sum of quantiles and the mix of cold and warm wake-ups
    just below the batching (the model draws them all), so it checks the simulator rather
    than replacing it.

    >>> shape = LatencyShape((0.0, 0.5, 0.99, 1.0), (1.0, 1.0, 3.0, 5.0))
    >>> m = ClientModel(shape, ClientCosts(per_message_us=100.0))
    >>> round(theory_percentile(m, 0.99, 10.0), 2), round(theory_percentile(m, 0.99, 5000.0), 2)
    (3.0, 4.0)
    """
    rho = rate_per_s / drain_rate_per_s(model.costs)
    if rho >= 1.0:
        return float("inf")
    low = float(model.latency.quantile(1.0 - (1.0 - q) * (1.0 - rho)))
    # the request cycles after the send loop: the rest of the cycle under way (uniform up to
    # T), then its own, less what the low-rate latency holds (1.5 cycles at its rate)
    extra_s = sum(
        (1.0 + q) * cyc.cycle_s(rate_per_s) - 1.5 * cyc.cycle_s(model.low_rate_per_s)
        for cyc in model.cycles
    )
    cycle = batch_cycle_s(model.costs, rate_per_s)
    if cycle <= 0.0:
        return max(low + 1000.0 * extra_s, 0.0)
    own = 1e-6 * model.costs.wake_up_us()  # what the low-rate latency holds: a cold one
    return max(low + 1000.0 * ((1.0 + q) * cycle - own + extra_s), 0.0)


def _stall_intervals(shape: LatencyShape, end_s: float, rng: np.random.Generator) -> np.ndarray:
    """Merged stall intervals ``[[start, end], ...]`` (s) over ``[0, end_s]``."""
    rate_per_ms, lengths_ms, prob = shape.stalls()
    if not lengths_ms.size or rate_per_ms <= 0:
        return np.zeros((0, 2))
    n = rng.poisson(rate_per_ms * 1000.0 * end_s)
    starts = np.sort(rng.uniform(0.0, end_s, n))
    ends = starts + rng.choice(lengths_ms, size=n, p=prob) / 1000.0
    if n == 0:
        return np.zeros((0, 2))
    reach = np.maximum.accumulate(ends)
    new = np.concatenate(([True], starts[1:] > reach[:-1]))
    group = np.cumsum(new) - 1
    merged_end = np.zeros(group[-1] + 1)
    np.maximum.at(merged_end, group, ends)
    return np.column_stack((starts[new], merged_end))


def _available_time(stalls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Breakpoints ``(real, tau)`` of ``tau(t) = t - stalled time before t``."""
    if not stalls.size:
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    lost = np.cumsum(stalls[:, 1] - stalls[:, 0])
    before = np.concatenate(([0.0], lost[:-1]))
    real = np.column_stack((stalls[:, 0], stalls[:, 1])).ravel()
    tau = np.column_stack((stalls[:, 0] - before, stalls[:, 1] - lost)).ravel()
    return np.concatenate(([0.0], real)), np.concatenate(([0.0], tau))


def _to_tau(t: np.ndarray, real: np.ndarray, tau: np.ndarray) -> np.ndarray:
    out = np.interp(t, real, tau)
    beyond = t > real[-1]
    out[beyond] = tau[-1] + (t[beyond] - real[-1])
    return out


def _to_real(x: np.ndarray, real: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """The first real time at which ``x`` of available time has passed (after a stall
    that starts exactly at ``x``: its start)."""
    i = np.searchsorted(tau, x, side="left")  # tau is flat across a stall: its first point
    i = np.clip(i, 1, tau.size - 1)
    beyond = x > tau[-1]
    seg = np.where(
        tau[i] > tau[i - 1],
        (x - tau[i - 1]) / np.where(tau[i] > tau[i - 1], tau[i] - tau[i - 1], 1.0),
        1.0,
    )
    out = real[i - 1] + seg * (real[i] - real[i - 1])
    out[beyond] = real[-1] + (x[beyond] - tau[-1])
    return out


def batch_departures(arrivals: np.ndarray, costs: ClientCosts) -> np.ndarray:
    """Departures of the send loop (arrivals sorted, in available time): each wake-up takes
    every message arrived by then, at most ``max_batch``, and finishes them together
    (:func:`sim.models.request_cycles.batched`, with a cold wake-up after a sleep)."""
    if costs.per_batch_us == 0.0 and costs.cold_us == 0.0:  # Lindley, vectorised
        return departures(arrivals, np.full(arrivals.size, 1e-6 * costs.per_message_us))
    return batched(
        arrivals,
        per_batch_s=1e-6 * costs.per_batch_us,
        per_message_s=1e-6 * costs.per_message_us,
        max_batch=costs.max_batch,
        cold_s=1e-6 * costs.cold_us,
    )


def linger(sent: np.ndarray, linger_ms: float, batch_messages: int) -> np.ndarray:
    """When a Kafka producer ships each message: a batch opens with its first message and
    goes ``linger_ms`` later, or as soon as it holds ``batch_messages``."""
    if linger_ms <= 0:
        return sent
    out = np.empty_like(sent)
    wait, n, i = linger_ms / 1000.0, sent.size, 0
    while i < n:
        close = sent[i] + wait
        j = min(int(np.searchsorted(sent, close, side="right")), i + batch_messages)
        j = max(j, i + 1)
        out[i:j] = close if j - i < batch_messages else sent[j - 1]
        i = j
    return out


def simulate_point(
    model: ClientModel, rate_per_s: float, *, duration_s: float, seed: int
) -> SimPoint:
    """``rate_per_s`` messages a second, due at ``i / rate``, for ``duration_s`` seconds."""
    check_number_arg("rate_per_s", rate_per_s, 0.1, 10_000_000)
    check_number_arg("duration_s", duration_s, 0.05, 3600)
    rng = np.random.default_rng([seed, int(rate_per_s * 1000)])
    n = max(1, int(round(rate_per_s * duration_s)))
    due = np.arange(n) / rate_per_s
    c = model.costs
    # the low-rate latency already holds one (cold) wake-up and the linger of a lone message
    own_ms = 1e-3 * c.wake_up_us() + model.linger_ms
    transit = np.maximum(model.latency.quantile(rng.uniform(0.0, BODY, n)) - own_ms, 0.0)
    horizon = duration_s * 4 + 1.0
    real, tau = _available_time(_stall_intervals(model.latency, horizon, rng))
    left = _to_real(batch_departures(_to_tau(due, real, tau), c), real, tau)
    shipped = linger(left, model.linger_ms, model.batch_messages)
    for cyc in model.cycles:
        shipped = cyc.departures(shipped)
    latency_ms = 1000.0 * (shipped - due) + transit
    if model.cycles:
        # ... and the request cycles' mean time at its rate: the model adds their growth (the
        # spread of their time adds to the body's, which holds it already: a small excess)
        low_ms = 1000.0 * _low_rate_cycles_s(model.cycles, model.low_rate_per_s)
        latency_ms = np.maximum(latency_ms - low_ms, 0.0)
    achieved = delivered_rate(due + latency_ms / 1000.0, left, 0.0, duration_s)  # as the lab
    q = np.quantile(latency_ms, list(PERCENTILES.values()))
    return SimPoint(
        float(rate_per_s),
        n,
        achieved,
        *(float(v) for v in q),
        float(latency_ms.max()),
        achieved < SATURATED_SHARE * rate_per_s,
    )


@functools.lru_cache(maxsize=64)
def _low_rate_cycles_s(cycles: tuple[Cycle, ...], rate_per_s: float) -> float:
    """:func:`cycles_delay_s` once per model: every point of a sweep subtracts it."""
    return cycles_delay_s(cycles, rate_per_s)


def delivered_rate(arrivals: np.ndarray, sent_at: np.ndarray, t0: float, point_s: float) -> float:
    """Messages a second delivered in time: those that arrived (``arrivals``, run times;
    NaN: never) by the end of the window (``t0 + point_s``) plus the sender's slack
    (:data:`SLACK` of ``point_s``), per second over which they were sent (``sent_at``: the
    last of them sent, from ``t0``; at least the window) -- and at most the rate they
    arrived at (:func:`arrival_rate`). A point that kept up delivers its offered rate; a stall
    inside the point does not lower it; an overloaded sender that kept sending into the slack
    delivers its throughput -- not 1 + SLACK times it, as a count per second of the window
    would say; a receiver (or a stage before it) that fell behind delivers the rate it took
    messages at -- not all that it caught up with in the slack, as the count alone says
    (earlier versions': each read a point overloaded by up to a quarter as delivered, and the
    saturation rate up to 25 % high). The lab (:mod:`labs.throughput`) and the simulator
    count a point with this one function.

    >>> sent = np.arange(1350) / 1000.0  # a sender that manages 1,000 of 1,250 msg/s
    >>> round(delivered_rate(sent + 0.001, sent, 0.0, 1.0))
    1000
    >>> plan = np.arange(1000) / 1000.0  # 1,000 msg/s sent in time, received at 850 a second
    >>> round(delivered_rate(plan / 0.85, plan, 0.0, 1.0))
    850
    """
    counted = arrivals <= t0 + point_s * (1 + SLACK)
    if not counted.any():
        return 0.0
    span = max(point_s, float(np.nanmax(np.where(counted, sent_at, np.nan))) - t0)
    return min(float(np.count_nonzero(counted) / span), arrival_rate(arrivals[counted]))


#: :func:`arrival_rate` fits a half with at least this many arrivals (fewer: no bound).
MIN_FIT = 10


def arrival_rate(arrivals: np.ndarray) -> float:
    """The rate messages arrived at (a second): the higher of the least-squares slopes of the
    arrival count over time in the earlier and the later half of the arrivals. A receiver
    that falls behind takes messages at its own rate in both halves; a stall (no arrivals,
    then the backlog at once) bends one half only, and the other -- the one with the catch-up
    -- reads at least the offered rate. ``inf`` when a half has fewer than :data:`MIN_FIT`
    arrivals or arrived all at one instant (nothing to fit).

    >>> round(arrival_rate(np.arange(500) / 400.0))
    400
    >>> stalled = np.arange(500) / 1000.0  # 1,000 msg/s with 100 ms of nothing near the end
    >>> stalled[400:] = np.maximum(stalled[400:], 0.5)
    >>> round(arrival_rate(stalled))
    1000
    """
    ordered = np.sort(arrivals)
    half = ordered.size // 2
    if half < MIN_FIT:
        return float("inf")
    parts = (ordered[:half], ordered[half:])
    if any(np.ptp(part) <= 0.0 for part in parts):
        return float("inf")
    return max(float(np.polyfit(part, np.arange(part.size), 1)[0]) for part in parts)


def check_number_arg(name: str, value: float, low: float, high: float) -> None:
    if not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f'"{name}" must be in [{low:g}, {high:g}], got {value!r}.')


def saturation_rate(
    model: ClientModel, *, seed: int, duration_s: float = 1.0, steps: int = 10
) -> float:
    """The simulator's saturation rate: what it delivers when offered more than it can
    take -- the achieved rate at 1.5 x the lowest offered rate it does not deliver (found by
    bisection between a tenth of the capacity and twice it), counted as the lab counts it
    (:func:`delivered_rate`): the capacity."""
    cap = capacity_per_s(model)
    lo, hi = 0.1 * cap, 2.0 * cap
    for _ in range(steps):
        mid = float(np.sqrt(lo * hi))
        if simulate_point(model, mid, duration_s=duration_s, seed=seed).saturated:
            hi = mid
        else:
            lo = mid
    return simulate_point(model, 1.5 * hi, duration_s=duration_s, seed=seed).achieved_rate_per_s

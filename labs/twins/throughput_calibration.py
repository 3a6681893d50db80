"""The throughput twin's calibration: a model of each configuration read off its real
sweeps (:mod:`labs.twins.throughput`).

Per configuration, from the lowest rates only (:data:`~labs.twins.throughput.CAL_POINTS`)
and the two bursts:

- the latency distribution (median percentiles): the transit time and the stalls behind
  its tail (:class:`sim.models.throughput.LatencyShape`);
- the send loop's wake-ups (the lab's ``send_busy_us_per_wake``: the wall time from waking
  to the end of its ``send``, and ``send_wakes``), through
  :meth:`sim.models.throughput.ClientCosts.from_wake_ups`: *cold* at the calibration
  rates, where the thread slept before each (its vCPU halted -- the ``haltpoll`` cpuidle
  driver, ``guest_halt_poll_ns`` = 0 here -- about 100 us more to wake, and so does the
  receiving thread it hands the GIL to), *warm* in a second burst (a few messages a
  wake-up, :data:`~labs.twins.throughput.WARM_BATCH`, every message due: it never
  sleeps). Pub/Sub on 2-vCPU machines: 234-453 us cold, 153-456 us warm for 2 messages
  (warm costs more where the receiving thread holds the GIL in between; the model takes
  it as it is).
- ``per_message_us`` = the slope from the warm burst's wake-ups to the full burst's (64
  messages): the sending and the receiving threads share one GIL, so a message of a full
  batch costs every thread's share of it (a little more than the process's CPU per
  message, ``burst_cpu_us``: the lock is handed over, not always held), and the capacity
  is the full burst's rate. The simulated point counts what it delivered as the lab does
  (:func:`sim.models.throughput.delivered_rate`: what arrived by 1.25 times its length,
  per second over which it was sent, and at most the rate it arrived at), so both halves'
  saturation rate is that capacity where the client is the bottleneck. A busy thread is
  hardly stalled: the costs are scaled by ``1 - s`` for the simulated thread, which is
  stalled at every rate.
- the *request cycles* after the send loop (:func:`request_cycles`,
  :class:`sim.models.request_cycles.Cycle`): kafka-python's produce requests (its I/O thread
  sends whatever accumulated while the previous request was under way) and fetches (a
  response carries whatever arrived meanwhile) -- counted per point by the lab
  (``send_requests``, ``recv_batches``). A busy stage's cycle is ``T = k / lambda`` and
  ``T = b + k c``: the line through the calibration rates' cycle and the burst's gives
  ``b`` and ``c``. Measured on a 2-vCPU machine: fetches of 5-9 messages at 1,000 msg/s
  (5-7 ms), produce requests of 2-3.5 (2.1-2.5 ms), both with ``c`` close to the process's
  CPU per message (97-113 us: the GIL). Redis has none: its pipeline is the send loop's
  wake-up, and its receive calls carried one message each at the calibration rates.
- ``wake_up_cv`` (the spread of the send loop's wake-ups at the calibration rates, the
  lab's ``send_busy_cv``) and ``low_rate_cpu_us`` (the process CPU per message there) are
  figures only. kafka-python's spread is two modes (its ``send()`` now and then waits for
  the I/O thread), not one cost's: drawn from a gamma of it, the Kafka p99 at 2,000-4,000
  msg/s came out 1.5-2x the real one. The low-rate CPU is mostly time-based (idle threads
  polling, cold wake-ups): charged to each wake-up, it lowered the capacity by a sixth.
- the *interpreter* (:meth:`sim.models.request_cycles.Cycle.interpreter`), last: every
  message costs ``burst_cpu_us`` once, one at a time -- one lock runs every thread's
  Python, so the process delivers at most ``1 / burst_cpu_us`` whichever thread has the
  most to do. The send loop alone does not bound Kafka: in a full burst kafka-python's
  send loop ran at 15,000-17,000 msg/s where the run delivered 7,000-11,000 (its I/O thread
  and its fetches took the lock); the model then put Kafka's saturation up to twice the
  real one. Over 11 twin runs on a 2-vCPU machine Kafka's real saturation was 0.71-1.2
  times ``1 / burst_cpu_us``, and 0.5-1.0 times the send loop's rate; re-simulated with the
  interpreter, 180 of 230 rows agreed, against 171 of 234 without (the rows up to half
  the saturation rate: a lower one compares fewer). Counted with the arrival-rate bound of
  :func:`sim.models.throughput.delivered_rate` (newer), three runs put Kafka's real
  saturation at 0.84-0.97 times ``1 / burst_cpu_us``, the simulator's at 0.99-1.0.
- the *tail*, last, fitted: its length scaled until the simulator gives back the
  calibration rates' p99 (:func:`sim.models.tail_fit.fit_tail`, where the figures are).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from labs.sending import MAX_BATCH
from labs.transports import READ_BATCH
from labs.twins.throughput_sweeps import Sweep
from sim.models.request_cycles import Cycle
from sim.models.tail_fit import fit_tail
from sim.models.throughput import ClientCosts, ClientModel, LatencyShape

#: The request cycles after the send loop, in the order a message meets them: the lab's
#: count of requests, and of the messages they carried.
CYCLES = {"produce": ("send_requests", "sent"), "receive": ("recv_batches", "received")}


def calibrate_from(
    sweep: Sweep,
    series: Sequence[float],
    linger_ms: float,
    *,
    cal_points: int,
    point_s: float,
    seed: int,
    repeats: int,
) -> tuple:
    """The model of one configuration from its ``cal_points`` lowest rates and bursts, and
    its figures; the tail fitted to their p99 (:func:`sim.models.tail_fit.fit_tail`: points
    of ``point_s``, ``repeats`` seeds from ``seed``)."""
    cal = [p for r in series[:cal_points] for p in sweep.at(r)]
    pct = {}
    for name in ("p50_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms"):
        vals = np.array([getattr(p, name) for p in cal], float)
        finite = vals[np.isfinite(vals)]
        pct[name] = float(np.median(finite)) if finite.size else float("nan")
    if not math.isfinite(pct["max_ms"]):
        pct["max_ms"] = pct["p999_ms"]
    shape = LatencyShape.from_percentiles(
        p50=pct["p50_ms"],
        p95=pct["p95_ms"],
        p99=pct["p99_ms"],
        p999=pct["p999_ms"],
        max_ms=pct["max_ms"],
    )
    low = float(np.median([p.process_cpu_us_per_msg for p in cal]))
    if not sweep.warm:
        raise ValueError(f'"{sweep.label}": the sweeps have no warm burst to calibrate on.')
    cold, full = wake_up(cal), wake_up(sweep.bursts)
    # the median warm burst, as every other figure: the send loop's wake-ups in the real
    # sweeps between 2,828 and 22,627 msg/s (1.5-40 messages each) lie on a line whose
    # per-wake-up cost the median warm burst met within 25 us on average over 8 twin runs,
    # the fastest one within 42 (it went 111 us below in one). Taking the fastest, as an
    # earlier version did, made the batching cycle too short: Pub/Sub median and p99 low at
    # 2,828-11,314 msg/s (the same 8 runs, re-simulated: 119 of 162 rows, 124 of 164 now)
    warm = wake_up(sweep.warm)
    spreads = [p.send_busy_cv for p in cal if math.isfinite(getattr(p, "send_busy_cv", math.nan))]
    costs = ClientCosts.from_wake_ups(
        cold=cold, warm=warm, full=full, stalled_share=shape.stalled_share(), max_batch=MAX_BATCH
    )
    burst_cpu = float(np.median([b.process_cpu_us_per_msg for b in sweep.bursts]))
    cycles = (*request_cycles(sweep, cal, full), Cycle.interpreter(burst_cpu))
    low_rate = float(np.exp(np.mean(np.log(series[:cal_points]))))
    model, tail = fit_tail(
        ClientModel(
            shape, costs, linger_ms=float(linger_ms), cycles=cycles, low_rate_per_s=low_rate
        ),
        series[:cal_points],
        pct["p99_ms"],
        point_s=point_s,
        seed=seed,
        repeats=repeats,
    )
    by_name = {cyc.name: cyc for cyc in cycles}
    figures = {
        "p50_ms": pct["p50_ms"],
        "p99_ms": pct["p99_ms"],
        "stalled_share": shape.stalled_share(),
        "low_rate_cpu_us": low,
        "burst_cpu_us": burst_cpu,
        "cold_wake_up_us": cold[1],
        "warm_wake_up_us": warm[1],
        "full_wake_up_us": full[1],
        "per_message_us": costs.per_message_us,
        "wake_up_cv": float(np.median(spreads)) if spreads else math.nan,
        "tail_factor": tail.factor,
    }
    for name in CYCLES:
        cyc = by_name.get(name)
        figures[f"{name}_cycle_ms"] = 1e-3 * cyc.per_cycle_us if cyc else 0.0
        figures[f"{name}_per_message_us"] = cyc.per_message_us if cyc else 0.0
    return model, figures


def request_cycles(sweep: Sweep, cal: Sequence[Any], full: tuple) -> tuple:
    """The stages after the send loop that batch in request cycles (:data:`CYCLES`): the
    producer's own requests (kafka-python's produce batches; none for Redis, whose
    pipeline *is* the send loop's wake-up) and the receiving side's (messages per receive
    call, at most :data:`labs.transports.READ_BATCH`). A stage's line ``T = b + k c`` (its
    cycle ``T = k / lambda``, from the messages a request carried) goes through the full
    burst's point (the send loop's full-batch rate ``full`` flowing through it) and the
    calibration rates'. A stage whose requests carried fewer than
    :data:`~sim.models.request_cycles.MIN_CYCLE_BATCH` messages at the calibration rates is
    left out: its cycle was shorter than the gap between messages, so ``k / lambda`` is
    the gap, not its cycle (Redis Pub/Sub's receive calls: 1.03-1.16 messages at 1,000-2,000
    msg/s; a line through the warm and the full burst instead gave a 0.53 ms cycle and a
    median 60 % too high at 2,000 msg/s -- a receiving thread that keeps up is not busy for
    all of ``k / lambda``). The full burst's produce requests were full: they cap a
    request, as ``batch.size`` does."""
    full_rate = 1e6 * full[0] / full[1]
    out = []
    for name, (count, total) in CYCLES.items():
        low = [
            (p.target_rate_per_s, per_request(p, total, count)) for p in cal if getattr(p, count)
        ]
        busy = [k for k in (per_request(b, total, count) for b in sweep.bursts) if k > 0]
        if not busy or not low:
            continue  # not counted: no requests of its own, or a sweep measured before
        k_busy = float(np.median(busy))
        cap = READ_BATCH if name == "receive" else max(1, math.ceil(k_busy))
        cyc = Cycle.from_batches(name, low=low, busy=(full_rate, k_busy), max_batch=cap)
        if cyc is not None:
            out.append(cyc)
    return tuple(out)


def per_request(p: Any, total: str, count: str) -> float:
    """Messages a request of point ``p`` carried (0: not counted)."""
    return getattr(p, total) / getattr(p, count) if getattr(p, count) else 0.0


def wake_up(points: Sequence[Any]) -> tuple[float, float]:
    """The send loop's wake-up over ``points`` (medians): messages, wall us."""
    k = np.median([p.sent / max(p.send_wakes, 1) for p in points])
    return float(k), float(np.median([p.send_busy_us_per_wake for p in points]))

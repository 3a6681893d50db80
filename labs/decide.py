"""The decision record's drills on the real brokers: ``python -m labs decide EVENTS.yaml``.

:func:`sim.course.decision.decide` writes the record from the simulator; this adds, per event
class, the consumer-outage drill on the real Redis and Kafka of this machine, with the
class's own rate -- capped at :data:`MAX_RATE_PER_S` -- and its own outage, shortened to
:data:`MAX_OUTAGE_S` when longer (a lab run is seconds, not a production outage: the row says
what ran):

- Pub/Sub, Kafka and a hybrid's facts: the loss lab (:func:`labs.loss.run_loss`: the subscriber
  really disconnected, the Kafka consumer closed and replaced) -- events lost, duplicated, the
  peak lag and the catch-up time of the tool's reader;
- Redis Streams: the Streams lab (:func:`labs.streams.run_streams`): a consumer crashes
  mid-batch and another claims its pending entries -- lost and processed twice.

The same seed gives the same sends; the real numbers vary with the machine as any lab's.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from datetime import date

import sim.progress as progress
from labs.clients import BrokerUnavailable, WaitTimeout
from labs.experiments.loss import LOSS
from labs.loss import run_loss
from labs.streams import run_streams
from sim.course.decision import DecisionRecord, EventClass, decide, load_events, recommend
from sim.course.decision.events_file import EXAMPLE
from sim.course.decision.record import ClassDecision, Drill

#: The highest rate a drill runs at (the loss lab keeps every send in memory).
MAX_RATE_PER_S = 2000.0
#: The longest outage a drill runs (s).
MAX_OUTAGE_S = 3.0
#: Seconds of publishing before the outage.
BEFORE_S = 1.0
#: The loss lab's ranges (declared once, in labs/experiments/loss.py).
MAX_WINDOW_S = float(LOSS.params["window_s"].high)
_SERVICE = LOSS.params["service_rate_per_s"]


def plan(ec: EventClass) -> tuple[float, float, float]:
    """``(rate, outage, consumer rate)`` of a class's outage drill, real or simulated: the
    class's own, the rate capped at :data:`MAX_RATE_PER_S`, the outage at
    :data:`MAX_OUTAGE_S`, the consumer rate within the loss lab's range and above the rate."""
    rate = min(ec.rate_per_s, MAX_RATE_PER_S)
    down = min(max(ec.downtime_s, 0.25), MAX_OUTAGE_S)
    service = min(max(ec.service_rate_per_s, _SERVICE.low), _SERVICE.high)
    return rate, down, max(service, 1.1 * rate)


def after_s(rate: float, down: float, service: float) -> float:
    """Seconds of publishing after the outage: long enough for the backlog to drain at
    ``service - rate`` (with a margin, as the simulator's run), so that the catch-up time is
    the same quantity in both; at most what the lab's window allows."""
    drain = 1.3 * rate * down / (service - rate) + 1.0
    return min(max(drain, 2.0), MAX_WINDOW_S - BEFORE_S - down)


def drill(d: ClassDecision, seed: int = 0) -> Drill:
    """The consumer-outage drill of one decided class on the real brokers."""
    ec = d.spec.event
    rate, down, service = plan(ec)
    ran = f"at {rate:g}/s" + (f" (yours: {ec.rate_per_s:g}/s)" if rate < ec.rate_per_s else "")
    if d.tool == "streams":
        messages = int(min(max(rate * down, 20), 1000))
        r = run_streams(messages=messages, batch=10, crash_after=messages // 4, seed=seed)
        row = r.report["stream-group:0"]
        return Drill(
            f"a stream consumer crashes mid-batch ({messages} entries)",
            row.lost,
            row.duplicated,
            float("nan"),
            float("nan"),
            "real: streams lab",
        )
    r = run_loss(
        rate_per_s=rate,
        window_s=BEFORE_S + down + after_s(rate, down, service),
        down_from_s=BEFORE_S,
        down_for_s=down,
        service_rate_per_s=service,
        seed=seed,
    )
    reader = "subscriber:0" if d.tool == "pubsub" else "group:0"
    row = r.report[reader]
    peak = float(r.metrics.get(f"peak_lag:{reader}", 0.0))
    catch = float(r.metrics.get(f"catch_up_s:{reader}", float("nan")))
    cut = f", outage shortened from {ec.downtime_s:g} s" if down < ec.downtime_s else ""
    return Drill(
        f"consumer away {down:g} s {ran}{cut}",
        row.lost,
        row.duplicated,
        peak,
        catch,
        "real: loss lab",
    )


def simulated(d: ClassDecision, seed: int = 0) -> Drill:
    """The simulator's run of the same outage drill (rate and outage as :func:`drill` ran
    them), for the real one to be read against; Streams' crash drill has no twin here."""
    ec = d.spec.event
    rate, down, service = plan(ec)
    same = dataclasses.replace(ec, rate_per_s=rate, downtime_s=down, service_rate_per_s=service)
    n = recommend(same, seed=seed).numbers["pubsub" if d.tool == "pubsub" else "kafka"]
    return Drill(
        f"the same drill, simulated ({down:g} s at {rate:g}/s)",
        n.lost,
        0.0,
        n.peak_lag,
        n.catch_up_s,
        "simulator",
    )


def with_real_drills(record: DecisionRecord, seed: int = 0) -> DecisionRecord:
    """``record`` with every class's drill on the real brokers, each followed by the
    simulator's run of the same drill (not for Streams' crash drill)."""
    rows = []
    with progress.task("drills on the real brokers", total=len(record.decisions)) as bar:
        for d in record.decisions:
            rows.append((d.spec.event.name, drill(d, seed)))
            if d.tool != "streams":
                rows.append((d.spec.event.name, simulated(d, seed)))
            bar.advance()
    return dataclasses.replace(record, real_drills=tuple(rows))


def main(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m labs decide",
        description="the decision record of an events file, with drills on the real brokers",
    )
    ap.add_argument("command", choices=["decide"])
    ap.add_argument("events", nargs="?", help="a YAML file of event classes (default: example)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="decision-record.md", help="where to write it ('-': print)")
    args = ap.parse_args(argv)
    try:
        spec = load_events(args.events or EXAMPLE)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        with progress.silenced(args.out == "-"):
            record = decide(spec, seed=args.seed, date=date.today().isoformat())
            record = with_real_drills(record, seed=args.seed)
    except (BrokerUnavailable, WaitTimeout) as exc:
        print(f"python -m labs decide: {exc}", file=sys.stderr)
        return 3
    if args.out == "-":
        print(record.markdown())
    else:
        print(f"wrote {record.write(args.out)}")
    return 0

"""The exercises of lessons 07-13, built from each lesson's scenario or lab result.

A lesson calls one function and gets an :class:`~labs.exercises.core.Exercise`; the value
it asks for is computed only inside ``check`` or ``reveal`` -- by running the lesson's own
simulator function (``simulate``) with this learner's parameters, or by reading the real
broker's result the lesson passes in. Simulator exercises vary their parameters per learner
(:func:`~labs.exercises.core.for_learner`), so neighbours predict different numbers; the
lab exercises ask about the run the learner just made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labs.exercises.core import Exercise, for_learner
from sim.analysis.result import Result
from sim.course.decision import AlertRule, EventClass, fires_at, recommend
from sim.course.durability import fault_time

__all__ = [
    "alert_fire_time",
    "backpressure_lag",
    "choose_tool",
    "durability_lost",
    "hybrid_missed",
    "poison_retries",
    "streams_pending",
]

Simulate = Callable[..., Result]

# (publish rate, consumer rate, seconds of publishing). None is the lesson's own example
# (200, 100, 2), whose lag the next cells print; every backlog is at least 150 messages, so
# the simulator's poll batching stays well inside the 5 % tolerance.
_BACKPRESSURE = ((250.0, 100.0, 2.0), (300.0, 150.0, 1.5), (200.0, 50.0, 2.5),
                 (300.0, 100.0, 2.5), (150.0, 50.0, 1.5), (250.0, 50.0, 2.0))  # fmt: skip


def backpressure_lag(simulate: Simulate) -> Exercise:
    """Lesson 07: the Kafka group's peak lag when publishing outpaces the consumer.

    ``simulate(rate_per_s=, service_rate_per_s=, window_s=)`` runs the lesson's scenario.
    """
    rate, service, window = for_learner("07-peak-lag", _BACKPRESSURE)
    return Exercise(
        key="07-peak-lag",
        question=(
            f"A producer publishes λ = {rate:g} msg/s for T = {window:g} s; the Kafka consumer "
            f"processes μ = {service:g} msg/s. How large does the group's lag get (messages)?"
        ),
        expected=lambda: simulate(
            rate_per_s=rate, service_rate_per_s=service, window_s=window
        ).metrics["peak_lag:group:0"],
        solution=(rate - service) * window,
        explanation=(
            f"While publishing lasts, messages arrive at λ = {rate:g}/s and leave at "
            f"μ = {service:g}/s: the backlog grows at λ − μ = {rate - service:g} msg/s for "
            f"T = {window:g} s and peaks at (λ − μ)·T = {(rate - service) * window:g} messages. "
            f"Afterwards it drains at μ, in {(rate - service) * window / service:g} s. The "
            "check runs the lesson's simulator with your numbers."
        ),
        rel_tol=0.05,
        hint="The backlog grows at λ − μ for as long as publishing lasts.",
    )


def poison_retries(lab: Result) -> Exercise:
    """Lesson 08: how many retries the poison lab's ``group:main`` made."""
    m, max_retries = lab.metrics, int(lab.params["max_retries"])
    transient, poison = int(m["transient"]), int(m["poison"])
    return Exercise(
        key="08-retries",
        question=(
            f"With `max_retries = {max_retries}` and the poison and transient counts the lab "
            "printed, how many retries did `group:main` make?"
        ),
        expected=lambda: int(lab.metrics["retries"]),
        solution=transient * 1 + poison * max_retries,
        explanation=(
            f"A transient event fails once and its first retry works: {transient} × 1. A poison "
            f"event fails every attempt, so it uses all {max_retries} retries before it is "
            f"dead-lettered: {poison} × {max_retries}. Together "
            f"{transient} + {poison * max_retries} = {transient + poison * max_retries}, "
            "as the lab counted."
        ),
        hint="Which events needed one retry, and which used them all?",
    )


def streams_pending(lab: Result) -> Exercise:
    """Lesson 09: entries in the group's PEL right after ``c1`` crashed."""
    batch, crash_after = int(lab.params["batch"]), int(lab.params["crash_after"])
    first = crash_after - (crash_after - 1) % batch
    last = first + batch - 1
    return Exercise(
        key="09-pending",
        question=(
            f"`c1` reads batches of {batch} entries and crashes after processing entry "
            f"number {crash_after}, before its `XACK`. How many entries are in the group's "
            "PEL right after the crash?"
        ),
        expected=lambda: int(lab.metrics["pending_after_crash"]),
        solution=last - crash_after + 1,
        explanation=(
            f"Entry {crash_after} came in the batch of entries {first}..{last}; the whole batch "
            f"entered the PEL when `XREADGROUP` delivered it. Entries {first}..{crash_after - 1} "
            f"were acknowledged one by one; {crash_after} was processed but not acknowledged, "
            f"and {crash_after + 1}..{last} were never processed: {last - crash_after + 1} "
            "entries pending, as the lab measured."
        ),
        hint="Which batch was `c1` working on, and which of its entries had an `XACK`?",
    )


# (publish rate, downtime of the live view); the view goes down at 1 s of a 3 s run. None
# is the lesson's own example (200/s for 1 s), whose count the next cells print.
_HYBRID = ((300.0, 1.0), (400.0, 1.5), (100.0, 1.5), (250.0, 0.5), (500.0, 1.0))


def hybrid_missed(simulate: Simulate) -> Exercise:
    """Lesson 10: notifications the live view misses while it is away.

    ``simulate(rate_per_s=, down_for_s=)`` runs the lesson's scenario.
    """
    rate, down = for_learner("10-missed-notifications", _HYBRID)
    return Exercise(
        key="10-missed-notifications",
        question=(
            f"Events are published at {rate:g}/s and the live view is away for {down:g} s. "
            "How many notifications does it lose?"
        ),
        expected=lambda: simulate(rate_per_s=rate, down_for_s=down).report["subscriber:0"].lost,
        solution=rate * down,
        explanation=(
            "Pub/Sub keeps nothing for a subscriber that is not connected: everything "
            f"published while the view is away is gone, {rate:g}/s × {down:g} s = "
            f"{rate * down:g} notifications (the simulator adds a 10 ms reconnect delay). "
            "The facts are all in the topic; the view rebuilds from there."
        ),
        rel_tol=0.05,
        hint="What does Pub/Sub keep for a subscriber that is not connected?",
    )


# The lesson's slowdown scenario: 200 events/s, 2 ms per event (500/s), slowed from 20 s
# for 20 s. Slow-down factors whose level alert fires inside those 20 s; not 5, the
# lesson's own example, whose firing time the next cells print.
_ARRIVALS, _SERVICE, _SLOW_FROM_S, _THRESHOLD = 200.0, 500.0, 20.0, 1000
_SLOW_FACTORS = (4, 6, 8, 10)


def alert_fire_time(simulate: Simulate) -> Exercise:
    """Lesson 11: when the level rule "lag ≥ 1000" fires during a slow-down.

    ``simulate(slow_factor)`` runs the lesson's scenario (see the constants above).
    """
    factor = for_learner("11-alert-time", _SLOW_FACTORS)
    slow = _SERVICE / factor
    growth = _ARRIVALS - slow
    rule = AlertRule("lag high", "lag", _THRESHOLD)
    return Exercise(
        key="11-alert-time",
        question=(
            f"{_ARRIVALS:g} events/s arrive; the consumer handles {_SERVICE:g}/s until "
            f"t = {_SLOW_FROM_S:g} s, then becomes {factor} times slower. At what time (s) "
            f'does the level rule "lag ≥ {_THRESHOLD}" fire?'
        ),
        expected=lambda: fires_at(rule, simulate(slow_factor=factor), "group:0"),
        solution=_SLOW_FROM_S + _THRESHOLD / growth,
        explanation=(
            f"Slowed down {factor} times the consumer handles {_SERVICE:g}/{factor} = "
            f"{slow:g} events/s while {_ARRIVALS:g}/s arrive, so from t = {_SLOW_FROM_S:g} s "
            f"the lag grows at {growth:g} events/s and reaches {_THRESHOLD} after "
            f"{_THRESHOLD}/{growth:g} = {_THRESHOLD / growth:.3g} s: at t ≈ "
            f"{_SLOW_FROM_S + _THRESHOLD / growth:.3g} s. The acceleration rule fires within a "
            "second of the slow-down: that is its point."
        ),
        rel_tol=0.05,
        hint="The lag grows at (arrival rate − service rate) from the start of the slow-down.",
    )


# Event types far from the thresholds of `recommend`, so a small change there keeps them.
_EVENTS: tuple[tuple[str, dict[str, Any], str, str], ...] = (
    (
        "`OrderShipped`: losing one means a customer never gets a tracking e-mail; a new "
        "analytics service must bootstrap from the last 30 days; the events of one order "
        "must stay in order; 3 consuming services; 300 events/s; deploys take consumers "
        "away for up to 5 minutes.",
        dict(name="OrderShipped", critical=True, needs_replay=True, ordering="per_key",
             fan_out=3, rate_per_s=300, downtime_s=300),
        "kafka",
        "Critical rules out Pub/Sub; replaying 30 days and per-key order with several "
        "consumers need a partitioned log that keeps history; 3 readers and no live "
        "fan-out: Kafka.",
    ),
    (
        "`SeatTaken`: a ticket shop shows every seat sold; losing one sells a seat twice; "
        "500 open browsers must see it within 50 ms; 100 events/s; the notification service "
        "restarts take up to a minute.",
        dict(name="SeatTaken", critical=True, fan_out=500, latency_p95_ms=50, rate_per_s=100,
             downtime_s=60),
        "hybrid",
        "Critical: the fact must be stored durably (a log). But 500 live readers want it "
        "within 50 ms: a bridge publishes each fact as a notification, and a browser that "
        "missed one rebuilds from the log. The hybrid.",
    ),
    (
        "`CursorMoved`: a shared editor shows where the others' cursors are; a missed one "
        "is replaced by the next within a second (up to 5 % may be lost); nothing reads "
        "old positions; 30 readers want them within 50 ms; 200 events/s; a reader may be "
        "away for 10 s.",
        dict(name="CursorMoved", fan_out=30, latency_p95_ms=50, rate_per_s=200, downtime_s=10,
             max_loss_fraction=0.05),
        "pubsub",
        "Not critical, no history needed, and the loss of a 10 s outage is a tiny share of a "
        "day's events: nothing to store. Pub/Sub pushes to the live readers with the lowest "
        "latency.",
    ),
)  # fmt: skip


def choose_tool() -> Exercise:
    """Lesson 12: which tool ``recommend`` picks for one more event type."""
    description, fields, tool, reasoning = for_learner("12-which-tool", _EVENTS)
    event = EventClass(**fields)
    return Exercise(
        key="12-which-tool",
        question=f"{description} Which tool: pubsub, streams, kafka or hybrid?",
        expected=lambda: recommend(event, seed=0).tool,
        solution=tool,
        explanation=f"{reasoning} `recommend({event!r})` gives the same answer.",
        hint="Go down the questions of the table: critical? replay? order? live fan-out?",
    )


def durability_lost(result: Result) -> Exercise:
    """Lesson 13: acknowledged writes ``acks=1`` lost (the ``acks=1`` run of ``compare``)."""
    rate = float(result.params["rate_per_s"])
    freeze, kill = fault_time(result, "freeze"), fault_time(result, "kill")
    return Exercise(
        key="13-acks1-lost",
        question=(
            f"The producer sent {rate:g} writes/s with `acks=1`. From the fault log, how many "
            "acknowledged writes did the run lose?"
        ),
        expected=lambda: result.report["drain"].lost,
        solution=round(rate * (kill - freeze)),
        explanation=(
            f"From the freeze of the followers (t = {freeze:g} s) to the kill of the leader "
            f"(t = {kill:g} s) the leader acknowledged every write alone: {rate:g}/s × "
            f"{kill - freeze:.3g} s ≈ {round(rate * (kill - freeze))} writes existed on the "
            "leader only. The follower elected after the kill never fetched them. The real "
            "count moves by a few writes (thread scheduling, when the leader really stopped)."
        ),
        rel_tol=0.25,
        hint="Which writes did only the leader have when it died?",
    )

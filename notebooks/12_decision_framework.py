# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 12 · Decision framework: which tool for which event
#
# Not all events are equal. A price tick that is stale in a second, a payment that must never
# be lost, a cache invalidation that must reach every node: one architecture for all of them
# is either too fragile for the payment or too heavy for the tick. So classify each event
# type, and let the failure semantics -- not raw throughput -- pick the tool:
#
# | question | the answer pushes towards |
# |---|---|
# | is losing one a business error (**critical**)? | Kafka, or Streams on a Redis with AOF |
# | must new consumers read the **history** (replay)? | Kafka (offsets, `seek`, new groups) |
# | must one key's events stay **in order** (many consumers)? | Kafka (key → partition) |
# | how many **live readers**, how fast (p95)? | Pub/Sub; for a critical event: hybrid |
# | how much **loss** is acceptable at this rate and outage? | the simulator's loss numbers |
#
# `sim.course.decision.recommend` encodes this: it runs the simulator with *your* rate and outage on
# all three tools, and returns a tool, the reasons and the numbers. A stream survives a
# *consumer's* outage, but it lives in Redis's memory: only with AOF persistence does it
# survive a Redis restart, and Redis replication is asynchronous. The course's own Redis
# runs with `--save "" --appendonly no`, so `recommend` counts Streams as a store for a
# critical event only when told the Redis has AOF (`redis_persistence="aof_everysec"` or
# `"aof_always"`; default `"none"`). Sources:
# [Redis persistence](https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/),
# [Redis replication](https://redis.io/docs/latest/operate/oss_and_stack/management/replication/).
#
# Terms: [glossary](glossary.md) ([stream](glossary.md#stream)) · defaults:
# [cheat sheet](defaults.md#redis-server)

# %%
# %matplotlib inline
from IPython.display import display

from labs.exercises import late
from labs.experiments.lessons import CONTROLS
from labs.loss import run_loss
from sim.analysis.compare import side_by_side
from sim.course.decision import (
    CHECKLIST,
    EventClass,
    recommend,
    recommendation_figure,
    schema_problems,
)
from sim.course.widgets import explore

# %% [markdown]
# ## The simulator: your event, your numbers
# Describe one event type. Each control is a field of `EventClass`; the simulator runs one
# Pub/Sub subscriber, one Redis Streams group and one Kafka group through one outage of the
# given length (one outage a day), and the bars compare what each tool loses and how long it
# takes to catch up. The recommendation and its reasons print above the plot.


# %%
def draw(
    critical, needs_replay, ordering, fan_out, latency_p95_ms, rate_per_s, downtime_s, max_loss_pct
):
    ec = EventClass(
        "my event",
        critical=critical,
        needs_replay=needs_replay,
        ordering=ordering,
        fan_out=fan_out,
        latency_p95_ms=latency_p95_ms,
        rate_per_s=rate_per_s,
        downtime_s=downtime_s,
        max_loss_fraction=0.0 if critical else max_loss_pct / 100,
    )
    rec = recommend(ec)
    display(rec)
    return recommendation_figure(rec)


explore(
    draw,
    **CONTROLS["12_decision_framework"].widgets(),
)

# %% [markdown]
# Four event types from the course's story, each with its own rate and outage (seed 0):

# %% tags=["nbval-check-output"]
EVENTS = [
    EventClass(
        "PaymentCaptured",
        critical=True,
        needs_replay=True,
        ordering="per_key",
        fan_out=3,
        rate_per_s=200,
        downtime_s=600,
    ),
    EventClass("EmailRequested", critical=True, rate_per_s=50, downtime_s=60),
    EventClass(
        "BalanceChanged",
        critical=True,
        fan_out=200,
        latency_p95_ms=50,
        rate_per_s=200,
        downtime_s=30,
    ),
    EventClass(
        "PriceTick",
        fan_out=50,
        latency_p95_ms=50,
        rate_per_s=500,
        downtime_s=10,
        max_loss_fraction=0.01,
    ),
]
for ec in EVENTS:
    print(recommend(ec, seed=0), end="\n\n")

# %% [markdown]
# Read the numbers, not just the verdict. Pub/Sub loses about `rate × outage` events every
# time a subscriber is away; whether that matters is the loss budget's call (the PriceTick
# loss is a tiny share of a day's ticks). The durable tools lose nothing and pay in backlog:
# `rate × outage` events, drained at (service rate − rate) -- the catch-up column.
#
# The same EmailRequested on the course's Redis (no persistence) and on one with AOF, and
# the three thresholds behind the verdicts (their derivation is in the docstring of
# `sim.course.decision.Thresholds`; pass your own as `recommend(..., thresholds=...)`):

# %%
from sim.course.decision import Thresholds

for persistence in ("none", "aof_everysec"):
    rec = recommend(EVENTS[1], seed=0, redis_persistence=persistence)
    print(f"Redis persistence {persistence!r}: {rec.tool}")
print(Thresholds())

# %% [markdown]
#
# ## The real brokers
# The loss lab checks the core of the table on real Redis and Kafka: a PaymentCaptured-like
# stream at 200 events/s, with the consumers away for 1.5 s (a short outage keeps the lab
# short). About 5 s.

# %%
short = EventClass(
    "PaymentCaptured (lab scale)",
    critical=True,
    needs_replay=True,
    ordering="per_key",
    rate_per_s=200,
    downtime_s=1.5,
    service_rate_per_s=400,
)
rec = recommend(short, seed=0)
lab = run_loss(rate_per_s=200, window_s=4, down_from_s=1, down_for_s=1.5, service_rate_per_s=400)
side_by_side(
    rec.result,
    lab,
    readers=[["subscriber:0", "group:0"]] * 2,
    columns=("acknowledged", "lost", "unseen"),
)

# %% [markdown]
# The simulated run publishes longer (until the backlog is surely drained), so its
# `acknowledged` count is higher; the losses are what compare. Real-broker counts vary a
# little; the verdicts do not:

# %% tags=["nbval-check-output"]
sim_lost, lab_lost = rec.numbers["pubsub"].lost, lab.report["subscriber:0"].lost
print(
    "Kafka lost nothing, in the simulator and for real:",
    rec.numbers["kafka"].lost == 0 and lab.report["group:0"].lost == 0,
)
print(
    "Pub/Sub lost rate × outage, give or take 20 %:",
    abs(lab_lost - 200 * 1.5) < 60 and abs(sim_lost - 200 * 1.5) < 60,
)
print("recommendation:", rec.tool)

# %% [markdown]
# ## Production readiness checklist
# Before an event type goes live, every line below has an answer written down (in the
# event's README or schema registry entry) and an owner:

# %%
for item, done in CHECKLIST:
    print(f"[ ] {item:18} {done}")

# %% [markdown]
# **Schema versioning, checked in CI.** Producers and consumers deploy separately, so every
# schema change must be readable by the other side. A CI job compares the new schema with the
# last released one and fails the build on an incompatible change. "Compatible" has three
# meanings, named as a schema registry names them: **BACKWARD** (consumers on the new
# schema read data written with the old one -- the registry's default: removing a field is
# fine, a new field needs a default), **FORWARD** (consumers still on the old schema read
# new data: adding a field is fine, removing one needs its default in the old schema) and
# **FULL** (both). A type may change only along Avro's promotions, e.g. int -> long, float
# or double ([Avro: schema resolution](https://avro.apache.org/docs/1.11.1/specification/#schema-resolution),
# [Confluent: compatibility types](https://docs.confluent.io/platform/current/schema-registry/fundamentals/schema-evolution.html#compatibility-types)):

# %% tags=["nbval-check-output"]
v1 = {"payment_id": {"type": "string", "required": True}, "amount": {"type": "int"}}
v2_ok = {**v1, "currency": {"type": "string"}}  # adds an optional field
v2_bad = {
    "payment_id": {"type": "string", "required": True},
    "amount": {"type": "float"},
    "merchant": {"type": "string", "required": True},
}
v2_drop = {"amount": {"type": "long"}}  # removes payment_id (no default), int -> long
for mode in ("BACKWARD", "FORWARD", "FULL"):
    for name, new in (("v2_ok", v2_ok), ("v2_bad", v2_bad), ("v2_drop", v2_drop)):
        print(f"{mode:8} v1 -> {name:7}:", schema_problems(v1, new, mode) or "compatible")

# %% [markdown]
# ## Exercise
# One more event type, described in the question below. Which tool: `"pubsub"`,
# `"streams"`, `"kafka"` or `"hybrid"`? The check runs `recommend` on it.

# %%
ex = late.choose_tool()
display(ex)

# %%
answer = ...  # one of "pubsub", "streams", "kafka", "hybrid"
ex.check(answer)

# %% [markdown]
# Stuck? Run `ex.reveal()` in a new cell.
#
# ## Summary
# - Classify every event type: critical or transient, replay, ordering, fan-out, latency;
#   then let the simulated loss, backlog and catch-up for *your* rate and outage decide.
# - Transient fan-out → Pub/Sub; no loss, no history, Redis persisted (AOF) → Streams;
#   history, order, scale or no Redis persistence → Kafka; durable facts with many live
#   readers → the hybrid.
# - Ship with the checklist: SLOs, alerts, DLQ, idempotency, and schemas checked in CI.
#   Next: [13 · Durability](13_durability.ipynb) -- what "acknowledged" means when a broker fails.

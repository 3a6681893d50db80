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
# # 0 · Setup check: two real brokers, one message through each
#
# This course compares two ways of delivering events:
#
# - **Redis Pub/Sub**, an *ephemeral channel*: a message goes to the subscribers connected
#   at the instant it is published, and nowhere else;
# - **Apache Kafka**, a *durable partitioned log*: a message is appended, kept, and read by
#   every consumer group at its own pace, now or later.
#
# Every lesson runs the same experiment three ways: in theory, in the simulator (`sim`), and
# on these real brokers (`labs`). This notebook checks that the brokers are there.
# If a cell fails, run `make course` (or `python -m labs.stack up`) in a terminal.
#
# Terms: [glossary](glossary.md) · the versions and defaults the course runs with:
# [cheat sheet](defaults.md)

# %%
from labs.stack import roundtrip, status

# %% [markdown]
# ## Are both brokers up?
# `status()` asks each broker for its version, with a short timeout.

# %%
health = status()
for h in health:
    print(h.line())

# %% [markdown]
# The next cell's output is checked when the course is tested: both must be reachable.

# %% tags=["nbval-check-output"]
print("both brokers reachable:", all(h.reachable for h in health))

# %% [markdown]
# ## A first message through each
# `roundtrip()` subscribes to a fresh Redis channel and `publish`es one message, then `send`s
# one record to a fresh one-partition Kafka topic and `poll`s it back. It deletes both after.

# %% tags=["nbval-check-output"]
r = roundtrip("hello, events")
print(f"Redis PUBLISH reached {r.redis_receivers} subscriber(s); it received {r.redis_payload!r}")
print(
    f"Kafka stored it at partition {r.kafka_partition}, offset {r.kafka_offset}; "
    f"the consumer read back {r.kafka_payload!r}"
)

# %%
print(f"round trip: Redis {r.redis_ms:.1f} ms, Kafka {r.kafka_ms:.1f} ms (varies run to run)")

# %% [markdown]
# Notice the two different receipts. Redis answers `PUBLISH` with **how many subscribers got
# the message** -- it keeps nothing. Kafka answers `send` with **where the record is stored**
# (partition and offset) -- it keeps the record, whether or not anyone reads it.
#
# ## Exercise
# What does `PUBLISH` return when **nobody** is subscribed to a channel, and when several
# clients are? Predict first: the next cell shows your question (the number of subscribers
# is yours alone); replace the `...` with your two numbers and run the cell. The check asks
# the real Redis.

# %%
from IPython.display import display

from labs.exercises import early

ex = early.publish_receipts()
display(ex)

# %%
answer = (..., ...)  # receivers with nobody subscribed, with the subscribers in the question
ex.check(answer)

# %% [markdown]
# Stuck? Run `ex.reveal()` in a new cell.

# %% [markdown]
# ## This machine's baseline
# The two receipts above cost different amounts of time. Before the next cell runs, predict:
# one event at a time, how long from send to read through Redis Pub/Sub, and through Kafka
# (which appends the record to its log and acknowledges it before a consumer can fetch it)?
# Same order of magnitude, or not? The cell sends 30 events through each, one after the
# other (about 3 s), and plots every one; the numbers are this machine's, and change from
# run to run.

# %%
# %matplotlib inline
from labs.baseline import latencies, plot_latencies

baseline = latencies(count=30)
plot_latencies(baseline)

# %% [markdown]
# Later lessons meet these times again: the latency columns of every report, and what a
# consumer's lag means in seconds.
#
# ## Summary
# - Two real brokers run on 127.0.0.1: Redis (Pub/Sub) and Kafka (a log), started by
#   `python -m labs.stack up`.
# - Redis's receipt is a receiver count; Kafka's is a storage position (partition, offset).
# - One event through an acknowledged append to Kafka's log takes longer than an in-memory
#   Redis fan-out -- the figure shows by how much on your machine.
# - Next: [1 · Two models](01_two_models.ipynb) -- what happens when a consumer is away.

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
# # 18 · Capstone: a decision record for your own events
#
# Lesson 12 mapped one event class at a time to a tool. A team needs more than a verdict:
# a **decision record** it can review and keep -- for every event class, the tool and the
# reasons, the configuration that makes the reasons true, the SLOs with the alert rules
# that watch them, and a **failure drill** that shows the configuration holding up. (An
# architecture decision record in the sense of Michael Nygard's "Documenting Architecture
# Decisions", 2011: context, decision, consequences -- here with numbers.)
#
# You describe your event classes in a YAML file: the fields of lesson 12's `EventClass`
# (`name`, `rate_per_s`, `critical`, `needs_replay`, `ordering`, `fan_out`,
# `latency_p95_ms`, `downtime_s`, `max_loss_fraction`, ...) plus what sizes the
# configuration: `keys` and `key_skew` (the Zipf exponent of key popularity, lesson 5) and
# `message_bytes`. The course then
#
# 1. runs the simulator through each class's own outage on Pub/Sub, Streams and Kafka
#    (`recommend`, lesson 12) and takes its tool;
# 2. derives the configuration: partitions from the key skew (keys placed by murmur2, the
#    Java client's partitioner), `acks` and `min.insync.replicas` (lesson 13), retention,
#    `MAXLEN ~`, AOF and `WAIT` (lesson 9 and the Redis persistence docs), Pub/Sub output
#    buffers (lesson 7);
# 3. checks the SLOs and says when each alert rule fires in the outage (lesson 11);
# 4. drills each class's worst fault in the simulator -- and the ones that fit this machine
#    on the real brokers.
#
# The same record comes out of a terminal: `python -m sim decide my_events.yaml` (simulator
# only) or `python -m labs decide my_events.yaml` (with the real drills).
#
# Terms: [glossary](glossary.md) ([acks](glossary.md#acks), [ISR](glossary.md#isr),
# [PEL](glossary.md#pel)) · defaults: [cheat sheet](defaults.md)

# %%
# %matplotlib inline
from pathlib import Path

from IPython.display import Markdown, display

from labs.decide import MAX_OUTAGE_S, with_real_drills
from labs.exercises import capstone
from sim.course.decision import decide, load_events, recommendation_figure
from sim.course.decision.events_file import EXAMPLE

# %% [markdown]
# ## Your events
# The course's example describes four event classes of a shop. To describe yours, copy it
# next to this notebook as `my_events.yaml` and edit it: this lesson reads that file when
# it exists.

# %%
MINE = Path("my_events.yaml")
source = MINE if MINE.exists() else EXAMPLE
print(f"reading {source.name}:\n")
print(source.read_text(encoding="utf-8"))
events = load_events(source)

# %% [markdown]
# ## The simulator decides
# Before you run the next cell: which tool will the record give each class? The two
# critical ones without a Redis that persists (`redis_persistence: none`) -- and the one
# with 200 live readers?

# %% tags=["nbval-check-output"]
record = decide(events, seed=0)
for d in record.decisions:
    print(f"{d.spec.event.name:16} -> {d.tool:7} ({len(d.settings)} settings)")

# %% [markdown]
# One class in full: the reasons, the configuration, the SLOs and alerts, the drills.
# Read the alerts against the outage: a rule that fires during a routine deploy pages
# someone for nothing; a rule that never fires in a long outage watches nothing.

# %%
first = record.decisions[0]
display(Markdown(record.section(first.spec.event.name)))
recommendation_figure(first.recommendation)

# %% [markdown]
# ## The drills on the real brokers
# Each class's consumer-outage drill on this machine's Redis and Kafka, at the class's
# rate (at most 2,000/s) with its outage shortened to a few seconds (the cell prints how
# many) -- a lab run takes seconds, not a production outage -- each followed by the
# simulator's run of the same drill. Predict first: what does the Pub/Sub class lose in
# that outage at its rate, and what do the durable ones lose?

# %%
print(f"outages of the real drills: at most {MAX_OUTAGE_S:g} s")
record = with_real_drills(record, seed=0)
display(Markdown(record.drills_markdown()))

# %% [markdown]
# Pub/Sub loses about `rate × outage` on the real broker as in the simulator; Kafka loses
# nothing and drains the backlog in about `backlog / (consumer rate - rate)` in both. The
# simulator's peak lag sits above the lab's: its consumer takes a random (exponential) time
# per event, as lesson 12's scenario models a real service, while the lab's consumer is
# paced at a constant rate -- the random one queues a little even without an outage.
#
# ## Keep the record
# The whole record as Markdown, next to this notebook: commit it with the code that
# implements it, and re-run the drills when a rate, an outage or a setting changes.

# %%
path = record.write("decision-record.md")
text = path.read_text(encoding="utf-8")
print(f"wrote {path.resolve()} ({len(text.splitlines())} lines); its summary:\n")
print("\n".join(text.splitlines()[:10]))

# %% [markdown]
# ## Exercise
# The record's backlog alert fires when the lag stays above `rate × 30 s` for 60 s. Your
# event class is in the question below: predict when the alert fires, then check.

# %%
ex = capstone.backlog_alert()
display(ex)

# %%
answer = ...  # seconds after the consumer stops
ex.check(answer)

# %% [markdown]
# Stuck? Run `ex.reveal()` in a new cell.
#
# ## Summary
# - A decision is a tool *and* a configuration *and* the SLOs and alerts that watch it,
#   with a drill that shows the three hold: write them down together.
# - Size from the numbers: partitions from the key skew and a consumer's rate, `MAXLEN`
#   from an outage's backlog, output buffers from how far a subscriber may fall behind.
# - An alert threshold in *seconds of traffic* is independent of the rate; its `for:`
#   decides which outages page someone.
# - Re-run `python -m labs decide my_events.yaml` whenever a rate, an outage or a setting
#   changes: the record is only as true as its last drill.

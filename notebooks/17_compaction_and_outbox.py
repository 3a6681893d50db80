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
# # 17 · Compaction, transactions and the outbox
#
# A customer service publishes every change of a customer's address. A new shipping service
# needs the *current* address of every customer -- not seven days of history (retention
# deletes what it needs), and not every change since the company started (too much to
# read). A **compacted topic** keeps the latest record per key: read it from the beginning
# and you have the table. Then two ways events go wrong *before* any consumer: a producer
# whose transaction aborted, and a service that writes its database and publishes an event
# as two separate writes -- the **dual write** -- with a crash in between. The
# **transactional outbox** fixes the last one.
#
# Everything here runs against the course's broker, Kafka 4.1.1, with kafka-python 3.0.12.
# Terms: [glossary](glossary.md) · defaults: [cheat sheet](defaults.md) · sources: the
# official documentation's [Log Compaction](https://kafka.apache.org/41/documentation/#compaction)
# and [topic configs](https://kafka.apache.org/41/documentation/#topicconfigs)
# (`cleanup.policy`, `min.compaction.lag.ms`, `delete.retention.ms`,
# `min.cleanable.dirty.ratio`, `segment.ms`), the broker config
# [`log.cleaner.backoff.ms`](https://kafka.apache.org/41/documentation/#brokerconfigs_log.cleaner.backoff.ms)
# and the consumer config
# [`isolation.level`](https://kafka.apache.org/41/documentation/#consumerconfigs_isolation.level).

# %%
# %matplotlib inline
from IPython.display import display

from labs.compaction import lab_plan, run_compaction
from labs.exercises import kafka_depth
from labs.experiments.lessons import CONTROLS
from labs.outbox import run_outbox
from labs.transactions import run_transactions
from sim.analysis.state_plots import compaction_timeline, design_counts
from sim.course.widgets import explore
from sim.models import compaction, dual_write

controls = CONTROLS["17_compaction_and_outbox"].widgets()

# %% [markdown]
# ## What the cleaner keeps, simulated
# 20 customers (keys), 30 address changes each, 50 a second; halfway, 4 customers are
# deleted with a **tombstone** (a record with a null value). The simulator
# (`sim.models.compaction`) follows the broker's rules: the partition is a sequence of
# segments and the last, **active** segment is never cleaned; a segment rolls at the first
# write more than `segment.ms` after its first record; the cleaner thread wakes every
# `log.cleaner.backoff.ms` (15 s by default, 1 s on the course's stack) and cleans when the
# uncleaned share of the partition is above `min.cleanable.dirty.ratio` (0.01 here); it
# keeps the latest record of each key below the active segment and below the records younger
# than `min.compaction.lag.ms`. Move the settings:


# %%
def cleaner(segment_ms, min_compaction_lag_ms, backoff_ms):
    settings = compaction.Cleaner(
        segment_ms=segment_ms, min_compaction_lag_ms=min_compaction_lag_ms, backoff_ms=backoff_ms
    )
    log, until = compaction.simulate(cleaner=settings)
    return compaction_timeline(log, until)


explore(cleaner, **{k: controls[k] for k in ("segment_ms", "min_compaction_lag_ms", "backoff_ms")})

# %% [markdown]
# The partition grows between cleanings and drops back to about one record per key at each;
# it never goes below the number of live keys. A longer `min.compaction.lag.ms` or backoff
# lets it grow further: compaction promises *what* is kept in the end, not *when* -- a
# reader can always find older values of a key that the cleaner has not reached yet. And
# whatever the timing, a reader that reads from the beginning ends with the latest state:
# compaction only bounds how much it has to read.
#
# ## The same on the real broker, and a service that bootstraps from it
# `run_compaction` writes 20 keys x 20 updates with 4 tombstones to a compacted topic
# (`segment.ms=200`, `min.cleanable.dirty.ratio=0.01`, `delete.retention.ms=500`), the last
# update a segment later so that it rolls the segment. It waits until the cleaner has left
# one record per key below the active segment, then -- once `delete.retention.ms` has passed
# -- writes one more update (the cleaner takes up a partition only when its dirty share is
# above `min.cleanable.dirty.ratio`: without new records nothing makes it run again) and
# waits until the tombstones are gone.
# Then a late reader reads the topic from the beginning and builds its table.

# %%
lab = run_compaction()
print(lab.report)

# %% tags=["nbval-check-output"]
m = lab.metrics
print(f"records written {m['records_written']}, left {m['records_left']}")
print(f"keys {m['keys']}, deleted by a tombstone {m['tombstoned_keys']}, live {m['live_keys']}")
print(f"tombstones left {m['tombstones_left']}, superseded records left {m['superseded_left']}")
print("the late reader's state is the latest state:", m["state_matches"] == 1.0)

# %% [markdown]
# The simulator on the lab's own writes (same keys, same order, the same segment rolls):

# %% tags=["nbval-check-output"]
writes = compaction.lab_writes(lab_plan(20, 20, 4, seed=0), segment_ms=200, gap_s=3.0)
model = compaction.clean(*writes, compaction.Cleaner(), until_s=10.0)
print(f"simulator: records left {model.records_at(10.0)[0]}, lab: {m['records_left']}")

# %%
print(f"broker: log.cleaner.backoff.ms = {lab.settings['log.cleaner.backoff.ms (broker)']}")
print(f"compacted {m['compacted_after_s']:.1f} s after the last cleanable write,", end=" ")
print(f"tombstones gone {m['tombstones_gone_after_s']:.1f} s after that")

# %% [markdown]
# One record per live key -- plus one: the last update sits in the active segment, which
# the cleaner never touches, and the older record of that key stays below it, because the
# cleaner only drops a record when it has seen a newer one *in the part it cleans*. The
# reader (`bootstrap:late` in the table) processed exactly the latest value of every live
# key and no deleted key: lost 0, and none of the 4 tombstoned keys in its state.
#
# With `min.compaction.lag.ms` the cleaner leaves young records alone; the lab measures it
# too (the first cleaning comes after the lag):

# %%
held = run_compaction(keys=6, updates_per_key=4, tombstoned_keys=1, min_compaction_lag_ms=3000)
print(f"min.compaction.lag.ms=3000: compacted {held.metrics['compacted_after_s']:.1f} s later")

# %% [markdown]
# What compaction does **not** promise: when the cleaner runs (it depends on the dirty
# ratio, the backoff, `min.compaction.lag.ms`, and on other partitions competing for the
# cleaner threads), that a reader never sees an older value of a key (it does, until the
# cleaner gets there), or that a tombstone is seen by a reader that comes back later than
# `delete.retention.ms` (the default is one day): such a reader keeps the deleted key.
#
# ## Transactions: `read_committed` vs `read_uncommitted`
# A transactional producer (`transactional_id`, `init_transactions`, `begin_transaction`,
# `commit_transaction`, `abort_transaction` -- kafka-python 3.0.12 has them) runs 10
# transactions of 10 records on a 2-partition topic and aborts 3 of them after their
# records reached the log. The broker writes a **marker** (a control record) into each
# partition a transaction wrote to; a consumer with `isolation_level="read_committed"`
# returns only committed records, the default `read_uncommitted` returns everything.

# %%
tx = run_transactions()
print(tx.report)

# %% tags=["nbval-check-output"]
t = tx.metrics
print(f"records committed {t['records_committed']}, aborted {t['records_aborted']}")
for reader in ("read_committed", "read_uncommitted"):
    row = tx.report[f"consumer:{reader}"]
    seen = t[f"aborted_seen:consumer:{reader}"]
    print(f"{reader:17} read {row.processed:3} records, {seen} of them aborted")
print(f"control records {t['control_records']} (one per transaction and partition)")

# %% [markdown]
# The aborted records are in the log -- they take offsets and were acknowledged to the
# producer -- but `read_committed` skips them. That is why a `read_committed` consumer is
# the other half of Kafka's exactly-once: it sees only what a transaction committed. Note
# the defaults differ by client: `read_uncommitted` in the Java client and in kafka-python
# 3.0.12, `read_committed` in librdkafka (confluent-kafka 2.16.1).
#
# ## The dual write, and the transactional outbox
# An order service inserts the order row in its database and publishes `OrderPlaced`. The
# two writes are not one transaction. If the process crashes between them, one happened and
# the other did not: a crash **after** the database commit loses the event (the order
# exists, nobody hears of it); code that publishes first and commits second, crashing in
# between, **invents** one (the event of an order that was rolled back). The **outbox**
# writes the order and the event (a row of an `outbox` table) in *one* database
# transaction; a relay publishes the outbox rows and marks them sent. A relay that crashes
# after publishing and before marking publishes again: duplicates, which a consumer that
# deduplicates by event id removes. Theory (`sim.models.dual_write`) for 100 requests, a
# crash probability per request and the share of crashes after the commit:


# %%
def designs(crash_pct, after_commit_pct, relay_crashes):
    dual, outbox = dual_write.expected(
        100,
        crash_pct / 100,
        after_commit_share=after_commit_pct / 100,
        relay_crashes=relay_crashes,
        relay_batch=10,
    )
    return design_counts(dual, outbox)


explore(designs, **{k: controls[k] for k in ("crash_pct", "after_commit_pct", "relay_crashes")})

# %% [markdown]
# On the real broker with SQLite: `run_outbox` handles 100 orders, 20 of which crash (which
# ones, and on which side of the commit, drawn from the seed), once with the dual write and
# once with the outbox; the relay publishes batches of 10 with an idempotent producer and
# crashes twice. The checker counts per reader, each expected to process the orders its
# design's database committed:

# %%
ob = run_outbox()
print(ob.report)

# %% tags=["nbval-check-output"]
o = ob.metrics
print(f"crashes {o['crashes']}: {o['crashes_after_commit']} after the commit, ", end="")
print(f"{o['crashes_before_commit']} before it")
dual_row, raw, dedup = (
    ob.report[f"consumer:{r}"] for r in ("dual-write", "outbox", "outbox-deduped")
)
print(f"dual write: lost {dual_row.lost}, invented {o['invented:consumer:dual-write']}")
print(f"outbox as read: duplicated {raw.duplicated} (relay republished {o['relay_republished']})")
print(f"outbox deduplicated: lost {dedup.lost}, duplicated {dedup.duplicated}")

# %% [markdown]
# Theory for the same 100 requests and a crash probability of 0.2 (half the crashes on each
# side of the commit) against the lab, which drew its 20 crashes and their sides from the
# seed:

# %% tags=["nbval-check-output"]
theory, _ = dual_write.expected(100, 0.2)
print(f"theory: lost {theory.lost:g}, invented {theory.invented:g} (mean)")
print(f"lab:    lost {dual_row.lost}, invented {o['invented:consumer:dual-write']}")

# %% [markdown]
# The dual write's `lost` equals the crashes after the commit and its invented events the
# crashes before it; the outbox lost nothing, invented nothing, and after deduplication
# processed every committed order exactly once. Why the idempotent producer does not remove
# the relay's duplicates: its sequence numbers belong to one producer session (lesson 6),
# and the relay that takes over is a new one.
#
# ## Exercises
# Predict first; each check runs the real lab with your numbers.

# %%
ex = kafka_depth.compacted_records()
display(ex)

# %%
answer = ...
ex.check(answer)

# %%
ex2 = kafka_depth.outbox_events()
display(ex2)

# %%
answer2 = {"events read": ..., "distinct orders": ...}
ex2.check(answer2)

# %% [markdown]
# Stuck? Run `ex.reveal()` or `ex2.reveal()` in a new cell.
#
# ## Summary
# - A compacted topic keeps the latest record per key (tombstones delete keys, after
#   `delete.retention.ms`); a late reader rebuilds the current state from it. The active
#   segment is never cleaned, and *when* the cleaner runs is not promised.
# - `read_committed` hides aborted transactions; the default `read_uncommitted` does not.
# - Writing a database and publishing an event as two writes loses or invents events on a
#   crash; the transactional outbox commits both at once, and deduplication by event id
#   removes the relay's repeats.
# - Next: [18 · Capstone](18_capstone.ipynb) -- a decision record for your own events.

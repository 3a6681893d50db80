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
# # 4 · Ordering: per partition, per key, and nothing more
#
# A ledger applies `Deposited(100)` then `Withdrawn(80)` to an account. Swap them and the
# withdrawal bounces. So: in what order does a consumer see events?
#
# Kafka's answer is precise. A **partition** is an ordered log, read in order. Across
# partitions there is no order at all. The producer picks the partition from the **key**
# -- a hash of the key bytes modulo the number of partitions: murmur2 in the Java client
# and kafka-python (the course's client), CRC32 by default in librdkafka clients
# (confluent-kafka, Go, .NET), so the same key can land on different partitions from
# different clients -- and all events with the same key -- say `accountId` -- land in one
# partition and stay in order. That is the whole promise: **per-key order with a stable
# key**, no global order.
#
# Terms: [glossary](glossary.md) ([partitioner](glossary.md#partitioner),
# [rebalance](glossary.md#rebalance)) · defaults: [cheat sheet](defaults.md#kafka-clients)

# %%
# %matplotlib inline
from IPython.display import display

import sim
from labs.exercises import early
from labs.experiments.lessons import CONTROLS
from labs.ordering import run_ordering
from labs.recording import global_inversions
from sim.analysis import plots
from sim.analysis.compare import side_by_side
from sim.course.widgets import explore

# %% [markdown]
# ## Keys, partitions and order, simulated
# 600 account events (20 accounts) into a 4-partition topic. `group:0` is one fast consumer;
# `group:1` has two consumers at 400 events/s each, and the second one joins half a second
# in -- a **rebalance** hands it half of the partitions.

# %%
accounts = {
    "name": "accounts",
    "workload": {"messages": 600, "rate_per_s": 5000, "keys": 20, "arrivals": "constant"},
    "topology": {"log": {"partitions": 4}},
    "consumers": {
        "groups": [
            {"service": {"mean_ms": 0.1}},
            {
                "consumers": 2,
                "service": {"mean_ms": 2.5},
                "max_poll_records": 50,
                "rebalance_ms": 200,
            },
        ]
    },
    "faults": [["consumer_leave", "group:1:1", 0, 0.5]],
}
r = sim.run(accounts, seed=0)

# %% [markdown]
# The two default hashes, on the course's first five keys and 4 partitions
# (`sim.models.partitioner` computes both exactly as the clients do):

# %%
from sim.models.partitioner import key_bytes, key_hash

for k in range(5):
    b = key_bytes(k)
    print(f"{b!r:9} murmur2 -> partition {key_hash(b, 'murmur2') % 4}", end="   ")
    print(f"CRC32 (librdkafka) -> partition {key_hash(b, 'consistent_random') % 4}")

# %% [markdown]
# The checker's `reordered` column counts events processed after a *later* event of the
# **same key**. `global_inversions` (the function the real lab uses) counts events processed
# after any later-published event, whatever its key:

# %% tags=["nbval-check-output"]
print(r.report)
for g in ("group:0", "group:1"):
    print(g, "global inversions:", global_inversions(r.history.reader(g).ids.tolist()))

# %% [markdown]
# Per-key order held in both groups -- through the rebalance too, because a partition has
# one assigned owner per *generation* (each rebalance starts a new one) and the simulated
# member stops at the revocation -- while in `group:1`, where two consumers share the
# partitions, the global order is broken (cell "keys, partitions and order"). The
# simulator hands one consumer its partitions' records in publish order, so `group:0`
# shows no inversions; a
# real client fetches partition by partition and breaks the global order even with one
# consumer, as the lab below shows. The timeline of `group:1` by partition shows the
# structure: each partition is its own ordered stream, paused while the group rebalances,
# then split between two consumers that progress at their own pace. Change the
# partitions, the number of consumers, or drop the key (`none`: the producer spreads
# null-key events over partitions, and nothing orders them any more).
#
# How the producer spreads null keys is not one record here, one there: since Kafka 2.4 the
# Java producer is *sticky* (KIP-480: one partition per batch; *uniform sticky* since 3.3,
# KIP-794: switch after `batch.size` bytes), librdkafka switches every
# `sticky.partitioning.linger.ms` (10 ms), and kafka-python 3.0.12's default picks a random
# partition per record. The simulator's model of each (`sim.models.null_key_partition`),
# 2000 records of 100 bytes at 5000/s over 4 partitions:

# %%
import numpy as np

from sim.models.null_key_partition import null_key_partitions

times, sizes = np.arange(2000) / 5000, np.full(2000, 100)
for rule in ("uniform_sticky", "sticky_linger", "random"):
    p = null_key_partitions(rule, times, sizes, 4, np.random.default_rng(0))
    runs = 1 + int((np.diff(p) != 0).sum())
    print(f"{rule:15} {runs:5d} runs of consecutive records in one partition")

# %% [markdown]
# A partition's single owner is per generation only. A member that stops polling for
# longer than `max.poll.interval.ms` (a long GC pause, a slow call) is removed and its
# partitions move -- but when it wakes up it still finishes the batch it had fetched: a
# **zombie**, processing records the new owner processes too (its late commit is then
# rejected). And the rebalance above is *eager* (every partition stops); Kafka also has
# the *cooperative* protocol (only moved partitions stop) and, since 4.0, the broker-side
# *consumer* protocol (KIP-848) -- see the [glossary](glossary.md#rebalance); lesson
# [16](16_rebalancing.ipynb) runs all of it on the real broker. Simulated on
# the scenario above, with consumer 0 of `group:1` stalled for 0.6 s against a 0.3 s
# `max_poll_interval_ms`:

# %%
stall = ["consumer_stall", "group:1:0", 0.8, 0.6]
stalled = sim.load({**accounts, "faults": [*accounts["faults"], stall]})
stalled = stalled.with_changes(**{"consumers.groups.1.max_poll_interval_ms": 300})
for protocol in ("eager", "cooperative"):
    res = sim.run(stalled.with_changes(**{"consumers.groups.1.protocol": protocol}), seed=0)
    m = res.metrics
    print(
        f"{protocol:11} zombie duplicates {m['zombie_duplicates:group:1']:3.0f}, "
        f"partition-seconds without an owner {m['unowned_partition_s:group:1']:5.2f}"
    )


# %%
def ordering(partitions, consumers, key_distribution):
    changes = {
        "topology.log.partitions": partitions,
        "consumers.groups.1.consumers": consumers,
        "workload.key_distribution": key_distribution,
    }
    res = sim.run(sim.load(accounts).with_changes(**changes), seed=0)
    return plots.timeline(res, readers=["group:1"], by="partition")


explore(
    ordering,
    **CONTROLS["04_ordering"].widgets(),
)

# %% [markdown]
# With one partition you get a total order -- and one consumer's worth of throughput. Every
# partition you add buys parallelism and costs global order.
#
# ## The same on a real Kafka
# `run_ordering` sends 600 events keyed by `accountId` (20 accounts) to a 4-partition topic.
# `group:stable-key` reads them with one consumer; in `group:rebalance` consumer A processes
# at 400 events/s and commits every 50, and consumer B joins after 0.5 s. The lab runs
# twice: once as described, once with A committing in its rebalance listener before it
# gives partitions up (`commit_on_revoke=True`). The simulator twin is the scenario above;
# its hand-over is clean, as with a commit in the listener (it redelivers nothing). Both
# runs take about 5 s.

# %%
lab = run_ordering(messages=600, partitions=4, num_keys=20, rebalance_at_s=0.5, commit_every=50)
fixed = run_ordering(
    messages=600, partitions=4, num_keys=20, rebalance_at_s=0.5, commit_on_revoke=True
)
side_by_side(
    r,
    lab,
    fixed,
    labels=("simulator", "kafka", "kafka, commit on revoke"),
    columns=("acknowledged", "processed", "duplicated", "reordered"),
    metrics={
        "global inversions, first group": lambda x: global_inversions(
            x.history.reader(x.history.readers[0].name).ids.tolist()
        ),
        "processed past the last commit, at revoke": (
            None,
            *["uncommitted_at_revoke:group:rebalance"] * 2,
        ),
        "older event seen again after a newer one": (
            None,
            *["key_regressions:group:rebalance"] * 2,
        ),
    },
)

# %% [markdown]
# The table above (cell "the same on a real Kafka"): on the real broker too, `reordered`
# is zero for the stable key and the global order is broken. What a rebalance can add is
# in the last rows. If A gives up a partition after processing events it has not committed
# yet, B reads them again from the committed offset: **duplicates**, and for those keys an
# *older* event arrives after a newer one. How many depends on where A was between two
# commits when B joined -- it changes from run to run, and can be zero. Committing in the
# rebalance listener closes that window; lesson 6 is about such duplicates. The stable
# part, checked:

# %% tags=["nbval-check-output"]
print("per-key order held (stable key):", lab.report["group:stable-key"].reordered == 0)
print("global order broken:", lab.metrics["global_inversions:group:stable-key"] > 0)
print(
    "first deliveries in per-key order after the rebalance:",
    lab.report["group:rebalance"].reordered == 0,
)
print("commit on revoke, duplicates:", fixed.report["group:rebalance"].duplicated)

# %% [markdown]
# ## Exercise
# Into how many partitions do one account's events go -- with `accountId` as the key, and
# with no key at all, in a topic with your own number of partitions (in the next cell's
# question)? Predict both; the check counts them in simulator runs of the accounts scenario.

# %%
ex = early.partitions_per_key(accounts)
display(ex)

# %%
answer = {"accountId": ..., "no key": ...}
ex.check(answer)

# %% [markdown]
# Stuck? Run `ex.reveal()` in a new cell.

# %% [markdown]
# ## Summary
# - Kafka orders events within a partition only; a stable key (`accountId`) gives per-key order.
# - Rebalances keep per-key order of first deliveries, but uncommitted work is redelivered.
# - Next: [5 · Hot partitions](05_hot_partitions.ipynb) -- when one key carries the traffic.

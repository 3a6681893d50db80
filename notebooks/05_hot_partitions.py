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
# # 5 · Hot partitions: when one key carries the traffic
#
# Lesson 4 made the key decide the partition, to keep each account in order. Real keys are
# not uniform: one merchant, one tenant, one celebrity account produces a large share of
# the events. Its partition gets that share of the traffic, and a partition is consumed by
# **one** consumer at a time -- so the hottest partition's consumer sets the pace for
# everyone. Twelve partitions do not mean twelve times the throughput if one of them
# carries a third of the load.
#
# Key popularity is modelled with a **Zipf** law: the key of rank *k* has weight
# *k*<sup>-s</sup>. At *s* = 0 all keys are equally popular; the larger *s*, the hotter the
# top key.
#
# Terms: [glossary](glossary.md) ([partitioner](glossary.md#partitioner),
# [lag](glossary.md#lag)) · defaults: [cheat sheet](defaults.md#kafka-clients)

# %%
# %matplotlib inline
from IPython.display import display

import sim
from labs.exercises import early
from labs.experiments.lessons import CONTROLS
from labs.hot_partitions import run_hot_partitions
from labs.twins.hot_partitions import HotPartitionsTwin
from sim.analysis import plots
from sim.analysis.compare import side_by_side
from sim.analysis.metrics import partition_counts
from sim.core.workload import zipf_weights
from sim.course.widgets import explore

# %% [markdown]
# ## Skewed keys, simulated
# The bundled scenario `hot_partition`: 2000 events/s for two minutes, 1000 keys drawn from
# Zipf(1.3), 12 partitions and 12 consumers (one per partition, 2 ms per event on average --
# 500 events/s each, so the group could absorb 6000/s if the load were even).

# %%
hot = sim.load("hot_partition")
r = sim.run(hot, seed=1)

# %% tags=["nbval-check-output"]
counts = partition_counts(r.history)
print("events per partition:", counts.tolist())
print(f"skew (max/mean): {r.metrics['partition_skew']:.2f}")
print(f"hottest partition: {counts.max() / counts.sum():.1%} of the events")
print(f"peak lag: {r.metrics['peak_lag:group:0']:.0f} events")
print(f"theory: the hottest key alone is {zipf_weights(1000, 1.3)[0]:.1%} of the events")

# %% [markdown]
# The numbers above (cell "skewed keys") say it: the hottest partition gets more than its
# consumer can process, so its lag grows for the whole two minutes while other consumers
# idle. Move the Zipf exponent and the partition count, and switch between the load per
# partition and the lag per partition (the widget simulates the first 30 s of the same
# traffic, so it redraws at once; the shape is the same):


# %%
def skew(zipf_s, partitions, view):
    changes = {
        "workload.duration_s": 30,
        "workload.zipf_s": zipf_s,
        "topology.log.partitions": partitions,
        "consumers.groups.0.consumers": partitions,
    }
    res = sim.run(hot.with_changes(**changes), seed=1)
    return plots.partition_load(res) if view == "load" else plots.lag(res, partitions=True)


explore(
    skew,
    **CONTROLS["05_hot_partitions"].widgets(),
)

# %% [markdown]
# Notice that at *s* = 1.3 adding partitions helps only partly: it spreads the *other*
# keys, but the hottest **key** still goes to one partition, and its share of 2000 events/s
# (the theory line of cell "skewed keys") is more than one consumer's 500 events/s.
#
# ## The same on a real Kafka
# `run_hot_partitions` sends 1500 events/s for 2 s with 1000 Zipf(1.3) keys into 6
# partitions; the group processes each partition at 400 events/s. Run as a twin, the
# simulator publishes the lab's very key sequence through its own murmur2 partitioner, and
# the theory column applies murmur2 to the keys by hand. All three must agree exactly
# (about 6 s):

# %%
hp = HotPartitionsTwin(key_distribution="zipf", rate_per_s=1500, window_s=2, partitions=6).run()
display(hp)

# %% [markdown]
# What those counts do to the consumers, simulator next to real broker:

# %%
lab = hp.real
side_by_side(
    hp.simulator,
    lab,
    columns=("acknowledged", "processed", "lost", "p50 ms", "p99 ms"),
    metrics={"peak lag": "peak_lag:group:0", "catch-up s": "catch_up_s:group:0"},
)

# %% [markdown]
# In the two tables above (cells "the same on a real Kafka") simulator and broker agree on
# the shape: the same skewed counts, a p99 latency far above the median (the events stuck
# behind the hot partition), a lag that only drains after the traffic stops. Checked every run:

# %% tags=["nbval-check-output"]
print("partition counts equal murmur2's prediction:", lab.metrics["partitions_match_murmur2"] == 1)
print("load is skewed (max/mean > 1.5):", lab.metrics["partition_skew"] > 1.5)
print("nothing lost, only delayed:", lab.report["group:0"].lost == 0)

# %% [markdown]
# ## Mitigations and what they cost
# **More partitions** spread the *other* keys thinner but cannot split one key -- and added
# to a live topic they **remap keys**: a key's partition is hash mod N, so going from N to
# M partitions moves a share 1 - gcd(N, M)/M of the keys (12 -> 24: half), and a moved
# key's new events can be processed before its old ones still waiting in the old partition
# (the producer switches at its next metadata refresh, `metadata.max.age.ms`: 5 min by
# default). Size partitions up front, or migrate to a new topic. **A better
# key** (finer-grained, e.g. `orderId` instead of `merchantId`) removes the skew at the
# source but changes which events are ordered together. Simulated, same traffic:

# %% tags=["nbval-check-output"]
for label, changes in {
    "12 partitions, Zipf keys": {},
    "24 partitions, Zipf keys": {"topology.log.partitions": 24, "consumers.groups.0.consumers": 24},
    "12 partitions, uniform keys": {"workload.key_distribution": "uniform"},
}.items():
    m = sim.run(hot.with_changes(**changes), seed=1).metrics
    print(f"{label:28} skew {m['partition_skew']:5.2f}   peak lag {m['peak_lag:group:0']:7.0f}")

# %% [markdown]
# Going from 12 to 24 partitions one minute into the same traffic, simulated (the group
# owns all 24 from the start):

# %%
from sim.models.partitioner import remapped_share

grown = sim.run(
    hot.with_changes(
        **{
            "topology.log.partitions_after": 24,
            "topology.log.repartition_at_s": 60,
            "consumers.groups.0.consumers": 24,
        }
    ),
    seed=1,
)
print(f"keys that move, theory: {remapped_share(12, 24):.0%}")
print("events processed after a later event of their key:", grown.report["group:0"].reordered)

# %% [markdown]
# **Salting** appends a random suffix (`key#0 .. key#3`) so one hot key spreads over several
# partitions. On the real broker (about 3 s):

# %%
salted = run_hot_partitions(
    key_distribution="zipf", rate_per_s=1500, window_s=2, partitions=6, salt_buckets=4
)
side_by_side(
    lab,
    salted,
    labels=("no salt", "4 salt buckets"),
    columns=("processed", "lost", "reordered", "p99 ms"),
    metrics={"skew (max/mean)": "partition_skew", "peak lag": "peak_lag:group:0"},
)

# %% [markdown]
# The table above (cell "salting"): the skew and the lag drop -- and the `reordered` column
# jumps from zero. One key's events now sit in partitions consumed at different speeds, so
# per-key order, the reason for the key in the first place, is gone. Salting is only for
# keys whose events need no order (counters, metrics), or with a re-sequencing step downstream.

# %% tags=["nbval-check-output"]
print("salting lowered the skew:", salted.metrics["partition_skew"] < lab.metrics["partition_skew"])
print("salting broke per-key order:", salted.report["group:0"].reordered > 0)

# %% [markdown]
# ## Exercise
# In the simulated `hot_partition` scenario (cell "skewed keys"), suppose the consumer of the
# hottest partition were faster or slower (your speed is in the next cell's question). **Above
# what total event rate does that partition fall behind?** Use the hottest partition's share
# printed in cell "skewed keys"; within 5% counts as right.

# %%
ex = early.hot_partition_limit(r)
display(ex)

# %%
answer = ...  # total events/s at which the hottest partition reaches its consumer's speed
ex.check(answer)

# %% [markdown]
# Stuck? Run `ex.reveal()` in a new cell.

# %% [markdown]
# ## Summary
# - Skewed keys funnel traffic into one partition; its single consumer caps the group.
# - More partitions cannot split a hot key; better keys or salting can -- salting costs order.
# - Next: [6 · Delivery guarantees](06_delivery_guarantees.ipynb) -- commits, crashes, duplicates.

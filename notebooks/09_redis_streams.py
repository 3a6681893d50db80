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
# # 9 · Redis Streams, the middle ground
#
# Pub/Sub forgets; Kafka keeps everything in partitions. **Redis Streams** keeps entries in
# one append-only stream (`XADD`) that *consumer groups* read, and tracks delivery **per
# entry**, not per partition:
#
# - `XREADGROUP ... >` hands new entries to whichever consumer asks; each delivered entry goes
#   into the group's **pending entries list (PEL)**, owned by that consumer;
# - `XACK` removes it from the PEL once processed;
# - if the consumer dies, its entries stay pending; another consumer takes them over with
#   **`XAUTOCLAIM`** once they have been idle for `min-idle-time`, and processes them again.
#
# At-least-once, like Kafka with commit-after-processing -- but with no partitions, so no
# per-key order and no partition stuck behind a dead consumer.
#
# Terms: [glossary](glossary.md) ([PEL](glossary.md#pel), [XACK](glossary.md#xack),
# [XAUTOCLAIM](glossary.md#xautoclaim), [MAXLEN](glossary.md#maxlen)) · defaults:
# [cheat sheet](defaults.md#redis-server)

# %%
# %matplotlib inline
from IPython.display import display

from labs.exercises import late
from labs.experiments import STREAMS
from labs.experiments.lessons import CONTROLS
from labs.streams import run_streams
from sim.analysis import plots
from sim.analysis.compare import side_by_side
from sim.core.engine import run
from sim.course.widgets import explore

# %% [markdown]
# ## The simulator
# 400 events/s for 30 s with 100 keys go both to a Redis stream read by a group of two
# consumers (`stream-group:0`) and to a 2-partition Kafka topic read by a group of two
# (`group:0`). At t = 5 s one consumer of each group crashes, for 20 s.


# %%
def crash(min_idle_ms=5000, session_timeout_ms=10000, down_s=20, seed=0):
    """One consumer of each group crashes at 5 s for ``down_s`` seconds."""
    return run(
        {
            "name": "consumer crash",
            "workload": {"rate_per_s": 400, "duration_s": 30, "keys": 100},
            "topology": {"log": {"partitions": 2}},
            "consumers": {
                "stream_groups": [
                    {
                        "consumers": 2,
                        "count": 10,
                        "min_idle_ms": min_idle_ms,
                        "service": {"kind": "exponential", "mean_ms": 2},
                    }
                ],
                "groups": [
                    {
                        "consumers": 2,
                        "max_poll_records": 10,
                        "session_timeout_ms": session_timeout_ms,
                        "service": {"kind": "exponential", "mean_ms": 2},
                    }
                ],
            },
            "faults": [
                ["consumer_crash", "stream-group:0:0", 5, down_s],
                ["consumer_crash", "group:0:0", 5, down_s],
            ],
            "drain_s": 10,
        },
        seed=seed,
    )


# %% [markdown]
# The Kafka group's crashed member keeps its partition until the session timeout expires:
# that partition's events pile up. The stream group's survivor simply reads the next
# entries; only entries pending at the crash (if any) wait for `min_idle_ms`.

# %%
explore(
    lambda **kw: plots.lag(crash(**kw)),
    **CONTROLS["09_redis_streams"].widgets(),
)

# %% [markdown]
# With the defaults (seed 0):

# %% tags=["nbval-check-output"]
res = crash()
side_by_side(
    res,
    columns=("acknowledged", "processed", "lost", "duplicated", "reordered", "p50 ms", "p99 ms"),
    metrics={"peak lag (messages)": lambda r: r.metrics["peak_lag:group:0"]},
)

# %% [markdown]
# Both lose nothing. The stream group keeps latency low through the crash, but it
# **reorders** events of the same key: two consumers process one stream in parallel, and
# nothing routes a key to one consumer. The Kafka group keeps per-key order (one partition,
# one consumer) and pays for it in latency while the dead member still holds its partition.
#
# ### Bounded by memory: `MAXLEN`
# A stream lives in Redis's memory, so production streams are capped with `XADD ... MAXLEN`.
# The cap is Streams' retention: entries trimmed before a group read them are gone for it.
# Here the whole group (one consumer) is away for 10 s at 400 events/s:

# %% tags=["nbval-check-output"]
for maxlen in (None, 5000, 1000):
    r = run(
        {
            "workload": {"rate_per_s": 400, "duration_s": 30, "keys": 100},
            "topology": {"stream": {"maxlen": maxlen}},
            "consumers": {"stream_groups": [{"service": {"kind": "exponential", "mean_ms": 1}}]},
            "faults": [["consumer_crash", "stream-group:0:0", 5, 10]],
        },
        seed=0,
    )
    print(
        f"MAXLEN {maxlen!s:>4}: lost {r.report['stream-group:0'].lost:5} of "
        f"{r.report['stream-group:0'].acknowledged}"
    )

# %% [markdown]
# A cap above the backlog (rate × outage) costs nothing; below it, the outage costs about
# backlog − MAXLEN entries -- the same trade as Kafka's retention, measured in entries and
# RAM instead of days and disk.
#
# ## The real brokers
# `run_streams` appends 100 entries to a stream (and sends them to a one-partition Kafka
# topic). Consumer `c1` reads batches of 10 and `XACK`s each entry after processing it; it
# crashes after processing entry number 25, before acknowledging it. Consumer `c2` reads the
# rest, waits until the pending entries are idle for 200 ms and `XAUTOCLAIM`s them. On Kafka
# the consumer commits every 10 messages and crashes at the same point. About 2 s.

# %%
lab = run_streams(messages=100, batch=10, crash_after=25, min_idle_ms=200, num_keys=10, seed=0)
print(lab.report.table())
print("largest delivery count of an entry:", lab.metrics["max_delivery_count"])

# %% [markdown]
# These numbers come from the parameters, not from timing, so they are checked:

# %% tags=["nbval-check-output"]
r, m = lab.report, lab.metrics
print("Streams lost nothing:", r["stream-group:0"].lost == 0)
print("XAUTOCLAIM took over every pending entry:", m["claimed"] == m["pending_after_crash"])
print("claimed entries were delivered twice:", m["max_delivery_count"] == 2)
print("PEL empty at the end:", m["pending_at_end"] == 0)
print("Streams duplicates (processed, not acked):", r["stream-group:0"].duplicated)
print("Kafka duplicates (processed since the last commit):", r["group:0"].duplicated)

# %% [markdown]
# One duplicate on Streams -- the entry processed but not acknowledged -- against everything
# since the last commit on Kafka. Round trips are not the price: `XACK key group id [id
# ...]` takes many ids and pipelines like any command
# ([Redis docs: XACK](https://redis.io/docs/latest/commands/xack/)), and a Kafka consumer
# may commit after every record too. The difference is the *shape* of the acknowledgement:
# Kafka commits one contiguous position per partition (everything below it is done), so one
# slow or failing record holds back the commit of every record after it; a stream's PEL
# holds individually acknowledged ids, each done or pending on its own.
#
# ## Side by side
# The simulator's twin (`STREAMS.build_scenario`, declared with the lab in
# `labs/experiments/streams.py`): 100 events at once, two stream consumers reading batches
# of 10, one crashing 25 ms in (25 entries at 1 ms each); a Kafka consumer crashing at the
# same time.
# The simulator XACKs once per *batch* (not per entry as the lab does) and commits Kafka
# offsets per poll, so its duplicate counts differ from the lab's.

# %%
twin = run(STREAMS.build_scenario(messages=100, batch=10, crash_after=25, min_idle_ms=200), seed=0)
side_by_side(twin, lab, columns=("acknowledged", "processed", "lost", "duplicated", "reordered"))

# %% [markdown]
# ## Exercise
# In the lab, `c1` reads batches of `batch = 10` entries and crashes after processing entry
# number `crash_after = 25`, before its `XACK`. How many entries are in the group's PEL right
# after the crash? (Which entries were delivered to `c1` but not acknowledged?)

# %%
ex = late.streams_pending(lab)
display(ex)

# %%
answer = ...  # entries pending after the crash
ex.check(answer)

# %% [markdown]
# Stuck? Run `ex.reveal()` in a new cell.
#
# ## Summary
# - Streams keep entries (until `MAXLEN` trims them) and track each delivered entry in the
#   PEL until `XACK`; `XAUTOCLAIM` hands a dead consumer's entries to a live one.
# - At-least-once with small redelivery; no partitions, so no stuck partition -- and no
#   per-key order within a group.
# - Next: [10 · The hybrid architecture](10_hybrid.ipynb).

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
# # 14 · Reconnects: gaps, catch-up and a cache that lies
#
# Lesson 2 showed that Redis Pub/Sub drops what a disconnected subscriber missed. In
# production the subscriber is a WebSocket gateway, or a cache that listens for changes --
# and the worst part is not the loss, it is that **the subscriber cannot tell**. A
# connection drops for half a second during a deploy or a network blip, the client library
# reconnects by itself, and the stream of messages simply goes on.
#
# Three things make a reconnect safe, and this lesson shows each on the simulator and on
# real Redis (measured with redis-server 7.0.15 of the native stack; the Docker stack runs
# 7.4.2; the client is redis-py 7.4.1):
#
# 1. **Detect the gap**: the publisher numbers its messages; a number more than one past
#    the last one seen is a gap.
# 2. **Repair it**: the publisher also appends each message to a Redis Stream (`XADD`);
#    on a gap the subscriber reads what it missed with `XREAD` from its last-seen entry id
#    -- no consumer group needed (the *gateway pattern*).
# 3. **Flush a client-side cache on every reconnect**: with `CLIENT TRACKING`, Redis tells
#    a client when a key it cached changes -- but only while the connection is up. What it
#    would have said during the outage is lost.
#
# Terms: [glossary](glossary.md) ([XREAD](glossary.md#xread), [MAXLEN](glossary.md#maxlen),
# [CLIENT TRACKING](glossary.md#client-tracking),
# [sharded Pub/Sub](glossary.md#sharded-pubsub)) · defaults:
# [cheat sheet](defaults.md#redis-server)

# %%
# %matplotlib inline
from IPython.display import display

from labs.exercises import reconnects
from labs.experiments import RECONNECT
from labs.twins import run_twin
from sim.analysis.compare import side_by_side
from sim.core.engine import run
from sim.course.reconnects import stale_reads_figure
from sim.course.widgets import explore
from sim.models import client_cache

# %% [markdown]
# ## Gaps in the simulator
# A publisher sends 200 numbered messages a second for 2 s; the subscriber's connection
# is closed at 0.5 s for 0.5 s. The simulator's subscriber repairs each gap from a stream
# (`RECONNECT.build_scenario`, declared with the lab in `labs/experiments/reconnect.py`):
# untrimmed, and capped with `MAXLEN 50`.

# %% tags=["nbval-check-output"]
for maxlen in (0, 50):
    m = run(RECONNECT.build_scenario(stream_maxlen=maxlen), seed=0).metrics
    print(
        f"MAXLEN {maxlen or 'none':>4}: gaps {m['gaps_detected:subscriber:0']:.0f}, "
        f"missed {m['missed:subscriber:0']:.0f}, repaired {m['repaired:subscriber:0']:.0f}, "
        f"still missing {m['still_missing:subscriber:0']:.0f}"
    )

# %% [markdown]
# One outage, one gap of rate × outage messages. An untrimmed stream gives all of them
# back; a stream capped below the gap gives back only what it still holds when the gap is
# seen -- size `MAXLEN` for the stream is rate × the longest outage you want to survive.
#
# **Order across a reconnect.** On one connection Redis delivers a channel's messages in
# the order it published them, so a subscriber's numbers only ever go up; a reconnect
# leaves a *hole*, never a step back. That is what makes "a number more than one past the
# last" a reliable gap detector -- and why the repair must hand the missed messages to the
# application *before* the one that revealed the gap, so it sees 0, 1, 2, ... again.
#
# ## A client-side cache across a reconnect
# A client caches 100 keys locally with `CLIENT TRACKING on` (Redis's default tracking
# mode: the server remembers which keys *this connection* read and pushes one
# `invalidate` message the first time each changes). Its connection drops for 1 s while
# another client updates 50 keys a second, then it reconnects and reads 100 keys a
# second for 2 s. Two variants: it **keeps** its cache, or it **flushes** it on reconnect.
#
# Keeping the cache is worse than missing the changes made during the outage: the new
# connection has read nothing, so Redis tracks none of the cached keys for it and sends no
# invalidation for *later* changes either. A kept entry is stale from the first change
# after the disconnect on, for good. With `λ = updates / keys` per key, a read at time `t`
# is stale with probability `1 − e^(−λt)`; over the reads that gives
# `E[stale] = r·(w − (e^(−λd) − e^(−λ(d+w)))/λ)` for `r` reads/s during `w` s after an
# outage of `d` s (`sim/models/client_cache.py`). Move the sliders:

# %%
explore(
    lambda **kw: stale_reads_figure(**kw),
    **RECONNECT.params.widgets("updates_per_s", "cache_down_s", "cache_keys", "tracking"),
)

# %% [markdown]
# The theory at the defaults, and the simulator over 400 seeds:

# %% tags=["nbval-check-output"]
cache = client_cache.CacheScenario()
runs = [client_cache.simulate(cache, seed) for seed in range(400)]
kept = sum(r["without_flush"].stale_reads for r in runs) / len(runs)
print(f"expected stale reads, kept cache:    {client_cache.expected_stale_reads(cache):.1f}")
print(f"simulated mean (400 seeds):          {kept:.1f}")
print(f"stale reads with the flush, any seed: {max(r['with_flush'].stale_reads for r in runs)}")

# %% [markdown]
# ## Exercise: predict before the run
# The next section runs the real lab. First, a gap of your own: how much of it does the
# stream give back?

# %%
ex = reconnects.repaired_after_gap()
display(ex)

# %%
answer = ...  # missed messages the subscriber reads back from the stream
ex.check(answer)

# %% [markdown]
# Stuck? Run `ex.reveal()` in a new cell.
#
# ## The real Redis, same parameters
# `run_twin("cache_staleness")` runs the lab `labs/reconnect.py` on real Redis and the
# simulator with the same parameters and seed:
#
# - **gaps**: a publisher `XADD`s each message to a stream, then `PUBLISH`es its number and
#   entry id; the subscriber's connection is really closed from 0.5 s for 0.5 s; on the
#   first message after it subscribes again it sees the gap and `XREAD`s from its
#   last-seen id up to that message;
# - **cache**: two clients on RESP3 connections (`protocol=3` in redis-py: invalidations
#   arrive as push frames on the same connection) fill their caches and are really
#   disconnected for 1 s while another client updates keys; one keeps its cache, one
#   flushes it; both replay exactly the operations the simulator draws for the seed. The
#   caches are the lab's own: redis-py 7.4.1's built-in one (`cache_config=`) always
#   flushes on disconnect -- the right behaviour -- and needs Redis 7.4 or later.
#
# About 7 s.

# %%
twin = run_twin("cache_staleness", seed=0)
display(twin)
lab, simulated = twin.real, twin.simulator

# %% [markdown]
# The checker's rows of both runs, and the counts side by side (the real subscriber's
# missed count depends on the machine's timing by a message or two):

# %%
side_by_side(
    simulated,
    lab,
    readers=(("subscriber:0",), ("subscriber:0", "gateway:0")),
    columns=("acknowledged", "processed", "lost", "reordered"),
    metrics={
        "gaps detected": ("gaps_detected:subscriber:0", "gaps_detected"),
        "missed": ("missed:subscriber:0", "missed"),
        "repaired from the stream": ("repaired:subscriber:0", "repaired"),
        "still missing": ("still_missing:subscriber:0", "still_missing"),
        "stale reads, kept cache": "stale_reads_without_flush",
        "stale reads, flushed cache": "stale_reads_with_flush",
    },
    labels=("simulator", "real Redis"),
)

# %% [markdown]
# What the lab must show does not depend on timing, so it is checked:

# %% tags=["nbval-check-output"]
m = lab.metrics
print("one gap detected:", m["gaps_detected"] == 1)
print("every missed message repaired:", m["repaired"] == m["missed"] > 0)
print("still missing:", m["still_missing"])
print("numbers went backwards on a connection:", m["reordered_within_connection"])
print("stale reads, kept cache:", m["stale_reads_without_flush"])
print("stale reads, flushed cache:", m["stale_reads_with_flush"])
print("invalidations after the reconnect, kept cache:",
      m["invalidations_after_reconnect_without_flush"])  # fmt: skip
print("the simulator replayed the same stale reads:", twin.agrees)

# %% [markdown]
# The kept cache answered every read from memory and was never told about a single change
# after the reconnect -- zero invalidations -- while the flushed one re-read each key once
# and was invalidated from then on. Redis's documentation says it plainly: when the
# connection is lost, flush the local cache
# ([Redis docs: client-side caching, "What to do when losing connection with the server"](https://redis.io/docs/latest/develop/reference/client-side-caching/#what-to-do-when-losing-connection-with-the-server),
# [CLIENT TRACKING](https://redis.io/docs/latest/commands/client-tracking/)).
#
# **BCAST mode** (`CLIENT TRACKING on BCAST PREFIX p`) tracks nothing per connection: Redis
# announces every change of a key under the prefix to every client that asked, whether it
# read the key or not. A kept cache then hears of the *next* change of each key after the
# reconnect, so an entry changed while it was away is stale only until then -- fewer stale
# reads, not none: `E[stale] = r·(1 − e^(−λd))·(1 − e^(−λw))/λ` (the widget's `tracking`
# control). The same lab with `tracking="bcast"`:

# %%
bcast = run_twin("cache_staleness", tracking="bcast", seed=0)

# %% tags=["nbval-check-output"]
row = bcast["stale reads without the flush"]
print(f"BCAST, kept cache: {row.real:.0f} stale reads on Redis, {row.simulator:.0f} simulated, "
      f"{row.theory:.1f} expected")  # fmt: skip
print("BCAST, flushed cache:", bcast.real.metrics["stale_reads_with_flush"])
announced = bcast.real.metrics["invalidations_after_reconnect_without_flush"]
print("invalidations after the reconnect, kept cache:", announced)
print("twin agrees:", bcast.agrees)

# %% [markdown]
# Every change after the reconnect was announced, yet the changes made during the outage
# were not: without the flush, BCAST only shortens how long a stale entry lives.
#
# **Sharded Pub/Sub.** Redis 7.0 added `SSUBSCRIBE` / `SPUBLISH`: in a Redis Cluster a
# shard channel is hashed to a slot like a key, and a message travels only within the
# shard that owns the slot instead of over the whole cluster bus
# ([Redis docs: sharded Pub/Sub](https://redis.io/docs/latest/develop/interact/pubsub/#sharded-pubsub)).
# It scales Pub/Sub; it does not make it durable. When the slot moves to another shard the
# server ends the subscription -- the client gets an `sunsubscribe` it did not ask for and
# must subscribe again at the new owner ([redis/redis#8621](https://github.com/redis/redis/pull/8621),
# the change that introduced it) -- and a primary that fails takes its subscribers'
# connections with it. Whatever is published meanwhile is gone: the same gap, detected and
# repaired the same way.
#
# ## Summary
# - A Pub/Sub subscriber cannot see a loss; a sequence number in each message lets it
#   detect the gap at the next message, and a stream written beside the channel lets it
#   repair the gap with `XREAD` from its last-seen id -- as long as `MAXLEN` keeps
#   rate × the longest outage.
# - On one connection messages never go backwards; across a reconnect there is a hole,
#   which the repair fills in order.
# - A client-side cache must be flushed on every reconnect: the invalidations sent while
#   it was away are lost, and in the default mode the new connection tracks none of the
#   old entries (BCAST announces later changes, but not the lost ones).
# - Next: [15 · Streams in production](15_streams_in_production.ipynb).

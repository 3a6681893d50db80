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
# # 15 · Redis Streams in production
#
# Lesson 9 showed that a stream keeps what a crashed *consumer* missed. This lesson follows
# a backend engineer who runs Streams for real: what to do when a reader reconnects, how to
# operate a stream, and -- part 3 -- what survives when the *Redis server* itself dies.
#
# Terms: [glossary](glossary.md) ([XADD](glossary.md#xadd), [acks](glossary.md#acks)) ·
# defaults: [cheat sheet](defaults.md#redis-server)

# %% [markdown]
# ## Part 3 -- Persistence and failover
#
# A stream lives in the Redis server's memory. The course's Redis runs with `--save ""
# --appendonly no`: nothing ever reaches the disk, so a restart starts empty. Production
# Redis turns on the **append-only file** (AOF) and runs a **replica**, and both come with
# a fine print:
#
# - `appendfsync` says when the AOF reaches the disk: `always` before the reply, `everysec`
#   once a second, `no` when the OS decides. Redis `write(2)`s each command to the file
#   before it replies, so a **process** crash (the OS and its page cache survive) keeps
#   them all -- with `everysec` except what Redis held back while a slow `fsync` ran (up to
#   2 s). A **power loss** keeps only what was fsynced: about the last second is gone with
#   `everysec` ([Redis docs, "Redis persistence"](https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/);
#   ["Diagnosing latency"](https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/latency/)).
# - Replication is **asynchronous**: the primary answers the client, then streams the write
#   to its replicas. If the primary's machine dies, the promoted replica lacks whatever was
#   still on the way -- writes the client was told were stored. `WAIT 1 <timeout>` blocks
#   until a replica has the writes, which closes that window for a price in latency, and is
#   still not strong consistency ([Redis docs, "WAIT"](https://redis.io/docs/latest/commands/wait/);
#   Jepsen's analysis of Redis reasons the same way).
#
# This is Kafka's `acks=1` versus `acks=all` (lesson 13), in Redis's words.

# %%
# %matplotlib inline
from IPython.display import display

from labs.attempt import Attempt
from labs.exercises import redis_durability as exercises
from labs.experiments import get
from labs.lessons import check
from labs.twins.registry import twin
from sim.course.failover import failover_figure
from sim.course.widgets import explore
from sim.models.replication import POLICIES, restart_loss

LAB = get("redis-durability")

# %% [markdown]
# ### What a restart keeps, in theory
# 1,000 acknowledged `XADD`s written in 0.2 s, then the server dies. Per policy, what the
# restarted server has lost -- when only the process died, and when the machine lost power
# (from the model `sim.models.replication`, which follows the docs above):

# %% tags=["nbval-check-output"]
for policy in POLICIES:
    process = restart_loss(policy, crash="process", acked=1000, duration_s=0.2)
    power = restart_loss(policy, crash="power", acked=1000, duration_s=0.2)
    print(f"{policy:9} process crash: {process:5} lost   power loss: {power:5} lost")

# %% [markdown]
# With `everysec` a power loss takes the last second -- here every write, as they all came
# within it. The lab below can only kill processes (`SIGKILL`), not cut the power: it shows
# the first column.
#
# ### The simulator: a failover
# A primary acknowledges writes at a rate; its replica is `lag_ms` behind (a network away).
# After `kill_after_s` the primary's machine dies and the replica is promoted. Left: the
# acknowledged writes the new primary is missing, against the write rate, with the client
# counting a write as done on the primary's reply (asynchronous) or only after `WAIT 1`.
# Right: what each write waits for, at your rate.

# %%
explore(
    failover_figure,
    rate_per_s=LAB.params["rate_per_s"].widget("write rate"),
    lag_ms=LAB.params["lag_ms"].widget("replica lag"),
    kill_after_s=LAB.params["kill_after_s"].widget("primary dies after"),
)

# %% [markdown]
# ### The real lab, with the same parameters
# The lab starts its **own** `redis-server` processes (Redis 7.0.15 here, redis-py 7.4.1;
# loopback, a temporary folder, all killed when it ends):
#
# 1. for each policy, a server takes 1,000 `XADD`s, is `SIGKILL`ed right after the last
#    reply and restarted on the same folder;
# 2. a primary and a replica (`--replicaof`), joined by a link that delays each direction by
#    `lag_ms` -- on one machine a replica is never behind, so the lab puts the network back;
#    writes at 200 and at 1,000 per second; 1.5 s in, the link is cut and the primary
#    `SIGKILL`ed together (its machine failing), then `REPLICAOF NO ONE` on the replica;
# 3. the same with `WAIT 1 1000` after each batch of writes.
#
# The failover twin runs it and the simulator on the same writes (about 15 s).

# %%
experiment = Attempt("failover twin", twin("failover").run)
result = experiment.run()
real = result.real

# %% [markdown]
# Side by side, simulator and real server, at the lower rate (the higher one is the
# exercise's):

# %%
if experiment.ran():
    for row in result.rows:
        if "1000/s" not in row.metric:
            print(f"{row.metric:42} simulator {row.simulator:8.1f}   real {row.real:8.1f}")
    for policy in POLICIES:
        lost = real.metrics[f"lost_after_restart:{policy}"]
        print(f"restart after kill -9, {policy:9}: {lost:5} of 1000 acknowledged XADDs lost")

# %% [markdown]
# ### Exercise: predict, then look
# At the higher rate the replica was `lag_ms` behind, as before. How many acknowledged
# writes did the real failover lose? Work it out from the rate and the lag.

# %%
if experiment.ran():
    ex = exercises.failover_lost(real)
    display(ex)

# %%
answer = ...  # acknowledged writes the promoted replica is missing at the higher rate
if experiment.ran():
    display(ex.check(answer))

# %% [markdown]
# Stuck? Run `ex.reveal()` in a new cell. Once checked, `print(result.table())` shows the
# whole comparison. What never moves from run to run:

# %% tags=["nbval-check-output"]
if experiment.ran():
    m = real.metrics
    print("appendonly no lost every acknowledged XADD:", m["lost_after_restart:no-aof"] == 1000)
    print("appendfsync always lost none on a kill -9:", m["lost_after_restart:always"] == 0)
    for label in ("low", "high"):
        print(
            f"{label} rate, failover lost acknowledged writes:", m[f"lost_on_failover:{label}"] > 0
        )
        print(f"{label} rate, WAIT-confirmed writes lost:", m[f"lost_with_wait:{label}"] > 0)
    print("the lab's lesson held:", check("redis_durability", real) == [])
    print("simulator and real server agree:", result.agrees)

# %% [markdown]
# The price of `WAIT`: every write now waits for the replica's round trip (two link
# delays) and for the batch before it.

# %%
if experiment.ran():
    for label, rate in (("low", 200), ("high", 1000)):
        print(
            f"{rate:5}/s  async p50 {m[f'async_p50_ms:{label}']:6.1f} ms p99 "
            f"{m[f'async_p99_ms:{label}']:6.1f} ms   WAIT p50 {m[f'wait_p50_ms:{label}']:6.1f} "
            f"ms p99 {m[f'wait_p99_ms:{label}']:6.1f} ms"
        )

# %% [markdown]
# ### Part 3 in short
# - `appendonly no` (the course's Redis): a restart loses every acknowledged write.
#   `appendfsync always` loses none, even on a power loss; `everysec` none on a process
#   crash here, about the last second on a power loss.
# - Replication is asynchronous: a failover loses the writes of the replica's lag,
#   about rate x lag, all of them acknowledged.
# - `WAIT 1 <timeout>` after each write (or batch) makes "acknowledged" mean "on a replica"
#   -- none of those was lost -- at the cost of a replica round trip per write; retry what
#   it did not confirm, and dedupe.
# - A critical event on Streams needs AOF *and* `WAIT`; if a failover must lose nothing,
#   `recommend()` picks Kafka with `acks=all` (lesson 13).

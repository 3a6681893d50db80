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
# [Lesson 9](09_redis_streams.ipynb) showed the mechanics: a consumer group, the pending
# entries list (PEL), `XACK`, `XAUTOCLAIM`. Running Streams for real asks the next
# questions, the ones an on-call engineer meets:
#
# 1. **What do I watch, and what do I do with a record that never succeeds?** `XPENDING`
#    and `XINFO` as the monitoring view; the **delivery count** and a **dead-letter
#    stream**; what `XGROUP DELCONSUMER` does to entries a consumer still holds.
# 2. **What does trimming do to my consumers?** `MAXLEN ~` and `MINID` against entries that
#    are pending or not yet read; one stream per shard when per-key order matters.
# 3. **What survives a restart or a failover?** Persistence and replication.
#
# Every claim about Redis below is for the versions the course runs: `redis-server` 7.0.15
# on the native stack (the Docker stack runs 7.4.2) and redis-py 7.4.1 (pinned in
# `pyproject.toml`); each is shown by a run or cited from the Redis docs.
#
# Terms: [glossary](glossary.md) ([PEL](glossary.md#pel), [XPENDING](glossary.md#xpending),
# [XINFO](glossary.md#xinfo), [delivery count](glossary.md#delivery-count),
# [XGROUP DELCONSUMER](glossary.md#xgroup-delconsumer), [MAXLEN](glossary.md#maxlen),
# [MINID](glossary.md#minid)) · defaults: [cheat sheet](defaults.md#redis-server)

# %%
# %matplotlib inline
from IPython.display import display

from labs.exercises import streams_ops as exercises
from labs.experiments import STREAMS_OPS
from labs.experiments.streams_ops import trim_scenario
from labs.streams_ops import run_streams_ops
from sim.analysis import plots
from sim.core.engine import run
from sim.course.widgets import explore
from sim.models.dlq import dead_letter_fraction
from sim.models.streams import lost_to_maxlen

# %% [markdown]
# ## Part 1 · Monitoring, delivery counts and dead letters
#
# A consumer that fails a record does not `XACK` it: the record stays in the PEL, and
# `XAUTOCLAIM` delivers it again later, adding one to its **delivery count** (the number
# `XPENDING` reports per entry). A record that fails *every* time -- a **poison** record --
# would circle forever. The Redis docs give the remedy: once the delivery count reaches a
# limit you choose, put the record in another stream and acknowledge it
# ([Redis docs: Streams, "Claiming and the delivery counter"](https://redis.io/docs/latest/develop/data-types/streams/)).
#
# Theory. If each delivery of an ordinary record fails independently with probability
# $p$, a record is dead-lettered after $N$ deliveries with probability $p^N$; a poison record
# (a share $q$) always. So the dead-lettered share is $q + (1 - q)\,p^N$: more deliveries
# push the transient term $(1 - q)\,p^N$ down geometrically and do nothing for the poison
# term $q$.
#
# ### The simulator
# 1000 records, a group of two consumers, `XAUTOCLAIM` every 50 ms; each point is one
# simulated run at one failure probability.

# %%
FAILURE_PROBABILITIES = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def dead_letter_sweep(max_deliveries=3, poison_fraction=0.05, seed=0):
    """The streams-ops scenario at every failure probability of the sweep."""
    return [
        run(
            STREAMS_OPS.build_scenario(
                messages=1000,
                failure_probability=p,
                max_deliveries=max_deliveries,
                poison_fraction=poison_fraction,
            ),
            seed=seed,
        )
        for p in FAILURE_PROBABILITIES
    ]


explore(
    lambda **kw: plots.dead_letters(dead_letter_sweep(**kw)),
    **STREAMS_OPS.params.widgets("max_deliveries", "poison_fraction"),
)

# %% [markdown]
# With 4000 records, $p = 0.3$ and 5 % poison, the simulated share against the theory for
# each limit $N$, with the binomial standard error of a share over 4000 records:

# %% tags=["nbval-check-output"]
for n in (1, 2, 3, 5):
    sim_run = run(
        STREAMS_OPS.build_scenario(
            messages=4000, failure_probability=0.3, max_deliveries=n, poison_fraction=0.05
        ),
        seed=0,
    )
    theory = dead_letter_fraction(0.3, n, 0.05)
    se = (theory * (1 - theory) / 4000) ** 0.5
    print(
        f"N = {n}: dead-lettered {sim_run.metrics['dlq'] / 4000:.3f} (simulator), "
        f"{theory:.3f} ± {se:.3f} (theory)"
    )

# %% [markdown]
# Beyond three or four deliveries the share sits on the poison floor: more retries only
# delay the dead letter (each round waits `min-idle-time`) and keep a poison record in the
# PEL longer.
#
# ### The real lab
# `run_streams_ops` does it on the real Redis, with the same parameters as the simulator's
# scenario: 60 records in a stream, group `ops` with consumers `c1` and `c2` reading
# batches of 10; each delivery of a record fails with probability 0.3 (the lab's own seeded
# draws), 5 % of the records are poison. A claimer runs every 50 ms: every pending record
# already delivered 3 times goes to a dead-letter stream (`XADD` to it and `XACK` in one
# `MULTI`, so a crash cannot lose or double it), the others are `XAUTOCLAIM`ed and
# processed again. The same run then does parts 1 and 2 of this lesson (about 1 s).

# %%
lab = run_streams_ops(
    messages=60,
    poison_fraction=0.05,
    failure_probability=0.3,
    max_deliveries=3,
    batch=10,
    min_idle_ms=50,
    seed=0,
)
m = lab.metrics

# %% [markdown]
# **The monitoring view.** Right after the first pass -- every record delivered once,
# failures not acknowledged -- the numbers an operator reads. `XINFO GROUPS` gives the
# group's `pending` and, since Redis 7.0, its `lag` (entries not yet delivered to the
# group) ([Redis docs: XINFO GROUPS](https://redis.io/docs/latest/commands/xinfo-groups/));
# `XINFO CONSUMERS` the `pending` and `idle` time per consumer; `XPENDING` the summary and,
# per entry, owner, idle time and delivery count
# ([Redis docs: XPENDING](https://redis.io/docs/latest/commands/xpending/)).

# %% tags=["nbval-check-output"]
print("XINFO GROUPS lag before anyone read:", m["lag_before_reading"])
print("XINFO GROUPS lag after the first pass:", m["lag_after_first_pass"])
print("XPENDING pending after the first pass:", m["pending_after_first_pass"])
print("XINFO CONSUMERS pending: c1", m["pending:c1"], "+ c2", m["pending:c2"])
print("records whose first delivery failed (the lab's draws):", m["failed_first_delivery"])

# %%
print("XINFO CONSUMERS idle (ms): c1", m["idle_ms:c1"], ", c2", m["idle_ms:c2"])

# %% [markdown]
# Lag 0 and a full PEL: the group is *not* behind, it is *stuck* on the records that
# failed. Lag alone
# would report a healthy group; alert on the PEL too (its size, and the oldest idle time
# in `XPENDING`), and on a consumer whose `idle` keeps growing while it holds entries.
#
# **The dead letters.** Which records reached the limit, and after how many deliveries:

# %% tags=["nbval-check-output"]
print("poison records:", m["poison"])
print("other records whose 3 deliveries all failed:", m["failed_every_delivery"])
print("dead-lettered:", m["dead_lettered"], "- the dead-letter stream holds", m["dlq_length"])
print(
    "delivery count of the dead-lettered (XPENDING):",
    m["min_dead_letter_deliveries"],
    "to",
    m["max_delivery_count"],
)
print("XAUTOCLAIM redeliveries:", m["redelivered"], "- PEL at the end:", m["pending_at_end"])

# %% [markdown]
# Side by side: the lab and the simulator run the same 60 records (the same poison ones:
# both draw the workload from the seed), each with its own random failures; the theory
# gives the expected count.

# %% tags=["nbval-check-output"]
twin = run(STREAMS_OPS.build_scenario(**dict(lab.params)), seed=0)
expected = 60 * dead_letter_fraction(0.3, 3, m["poison"] / 60)
print(
    f"dead-lettered: lab {m['dead_lettered']}, simulator {twin.metrics['dlq']:.0f}, "
    f"theory {expected:.1f} (given {m['poison']} poison)"
)

# %% [markdown]
# A dead-letter stream is a stream like any other: a fixed consumer reads it later and
# re-processes the records (as lesson 8 did with a dead-letter topic), and its length is
# the number to alert on.
#
# ### `XGROUP DELCONSUMER` drops what the consumer held
# Consumers come and go (a pod is replaced, a worker is renamed), and their names pile up
# in `XINFO CONSUMERS`. `XGROUP DELCONSUMER` removes one -- and with it every entry it still
# had pending: "any pending messages that the consumer had will become unclaimable after
# it was deleted" ([Redis docs: XGROUP DELCONSUMER](https://redis.io/docs/latest/commands/xgroup-delconsumer/)).
# The lab's consumer `c3` reads 5 new records and is deleted before acknowledging them;
# `c4` reads 5 more, but the claimer `XCLAIM`s them before `c4` is deleted.

# %% tags=["nbval-check-output"]
print("DELCONSUMER c3 returned (pending it had):", m["pending_dropped_by_delconsumer"])
print("PEL right after:", m["pending_after_delconsumer"])
print("claimed before deleting c4:", m["pending_saved_by_claim_first"])
print("DELCONSUMER c4 returned:", m["pending_dropped_by_delconsumer_after_claim"])
ops = lab.report["stream-group:ops"]
print(
    f"group ops: {ops.acknowledged} records, {ops.processed} processed, {ops.lost} lost "
    f"= {m['dead_lettered']} dead-lettered + {m['pending_dropped_by_delconsumer']} dropped"
)

# %% [markdown]
# The 5 records `c3` held are still in the stream, but no consumer of the group will ever
# get them: they left the PEL, and the group's last-delivered id is past them, so
# `XREADGROUP >` skips them. Only someone who knows their ids (`XRANGE`) can find them.
# Before deleting a consumer, claim (or acknowledge) its pending entries: the return value
# of `DELCONSUMER` -- the count it dropped -- should be 0.
#
# ## Part 2 · Trimming, and one stream per shard
#
# A stream lives in memory, so production streams are capped: `MAXLEN` (keep the newest N)
# or, since Redis 6.2, `MINID` (drop entries with ids below a threshold; ids start with a
# millisecond timestamp, so `MINID` is retention by time)
# ([Redis docs: XTRIM](https://redis.io/docs/latest/commands/xtrim/)). Trimming does not
# look at consumer groups in Redis 7.0: it deletes the oldest entries whether or not a
# group has read them, pending or not. (Redis 8.2 adds trimming options that respect the
# groups, `KEEPREF`/`DELREF`/`ACKED`; not available on the course's Redis:
# [Redis docs: Streams](https://redis.io/docs/latest/develop/data-types/streams/).)
#
# ### The simulator: `MAXLEN` and a slow group
# 3000 entries appended at 1000/s, one group reading 400/s. It reads 400 × 3 = 1200 while
# they arrive, then the `MAXLEN` newest left: everything else is trimmed before it was
# read, $n (1 - \mu/\lambda) - L$.

# %% tags=["nbval-check-output"]
for maxlen in (None, 2000, 1000, 300):
    slow = run(
        trim_scenario(messages=3000, rate_per_s=1000.0, service_rate_per_s=400.0, maxlen=maxlen),
        seed=0,
    )
    theory = lost_to_maxlen(3000, 1000.0, 400.0, maxlen)
    print(
        f"MAXLEN {maxlen!s:>4}: lost {slow.report['stream-group:0'].lost:4} (simulator), "
        f"{theory:4.0f} (theory)"
    )

# %% [markdown]
# ### The real lab: trimming under pending entries
# The same lab run, second stream: 400 entries; consumer `s1` of group `slow` reads the
# first 150 and dies before processing them. Then `XTRIM MAXLEN ~ 150`, then `XTRIM MINID`
# with the id of the 100th newest entry (exact), then a new consumer `s2` takes over.

# %% tags=["nbval-check-output"]
print("entries:", m["stream_length_before_trim"])
print("after XTRIM MAXLEN ~ 150:", m["stream_length_after_maxlen"])
print("after XTRIM MINID (keep the newest 100):", m["stream_length_after_minid"])
print("ids XPENDING still lists for s1:", m["pending_listed_after_trim"])
print("... of which XRANGE finds no data:", m["pending_trimmed"])
print("XAUTOCLAIM by s2 returned as deleted:", m["autoclaim_deleted"])
print("PEL after that XAUTOCLAIM:", m["pending_after_autoclaim"])
print("entries trimmed before the group read them:", m["trimmed_unread"])
print("XINFO GROUPS lag after the trim:", m["lag_after_trim"])
print("entries the group can still read:", m["readable_after_trim"])
slow_group = lab.report["stream-group:slow"]
print(f"group slow: processed {slow_group.processed}, lost {slow_group.lost}")

# %% [markdown]
# What the run shows, on Redis 7.0.15:
#
# - **`MAXLEN ~` keeps more than asked.** `~` trims only whole macro nodes of the stream's
#   radix tree (at most `stream-node-max-entries`, 100 by default, per node), so 150 asked
#   left 200: cheaper, and the bound is a floor, not an exact length
#   ([Redis docs: XTRIM](https://redis.io/docs/latest/commands/xtrim/)).
# - **Pending entries are trimmed like any other.** `XPENDING` still lists all 150 ids
#   `s1` held, but their data is gone: `XRANGE` returns nothing, and `XAUTOCLAIM` (Redis
#   7.0+) returns them in its list of deleted ids and removes them from the PEL
#   ([Redis docs: XAUTOCLAIM](https://redis.io/docs/latest/commands/xautoclaim/)). A record
#   whose consumer crashed is lost if trimming reaches it before a claimer does.
# - **Unread entries go silently.** 150 entries no consumer of `slow` had read were
#   trimmed; nothing in the group records them.
# - **The lag overstates what is left.** `XINFO GROUPS` computes the lag from counters
#   (entries added minus entries read: 400 − 150 = 250), so it still counts the 150
#   trimmed entries; the group can read 100. A monitor that wants to see loss to
#   trimming counts what is left after the group's `last-delivered-id` (`XRANGE` from
#   just after it, as the lab does) and compares it with the lag: the difference was
#   trimmed unread.
#
# The theory for this run, from the parameters alone, beside the lab:

# %% tags=["nbval-check-output"]
gone = 400 - min(100, m["stream_length_after_maxlen"])
print(
    f"pending without data: lab {m['pending_trimmed']}, theory min(150, {gone}) = {min(150, gone)}"
)
print(
    f"unread and trimmed: lab {m['trimmed_unread']}, theory {gone} - {min(150, gone)} = "
    f"{gone - min(150, gone)}"
)

# %% [markdown]
# Size the cap for the longest outage you must survive -- rate × outage, as lesson 9
# said -- and run the claimer more often than trimming can reach a pending entry.
#
# ### One stream per shard when per-key order matters
# A consumer group hands entries to whichever consumer asks first, so two consumers
# process records of one key in parallel (lesson 9), and a failed record comes back
# through the claimer *after* later records of its key: a retry or a dead letter
# reorders. When per-key order matters (balances, state machines), do what Kafka does
# with partitions, by hand: **N streams** (`events:0` … `events:N-1`), each key mapped to
# one by a hash, and **one consumer per stream**, which retries a failing record *in
# place* before it reads the next -- `XREADGROUP` with id `0` hands a consumer its own
# pending entries again, adding one to the delivery count -- and dead-letters it after N
# deliveries. The lab's fourth step does that with the same 60 records and the same
# failures, in 2 streams (key modulo 2), and the checker counts, per key, records
# processed after a later record of their key:

# %% tags=["nbval-check-output"]
shards = lab.report["shards"]
print("group ops, failures retried by the claimer: reordered", ops.reordered)
print("one stream per shard, retried in place: reordered", shards.reordered)
print(
    "dead-lettered:",
    m["dead_lettered"],
    "(group ops),",
    m["dead_lettered_sharded"],
    "(shards, after",
    m["max_delivery_count_sharded"],
    "deliveries)",
)

# %% [markdown]
# Same dead letters, no reordering. The price is the partition model's: a failing record
# holds up the records behind it in its stream (lesson 8's trade-off for a partition), the
# shard count is fixed, rebalancing a dead consumer's streams is your code (claim them),
# and a hot key makes a hot stream (lesson 5). On Redis Cluster give each shard's stream
# its own hash slot so the shards spread over the nodes; a shared hash tag (`{...}` in the
# key name) would pin them all to one slot
# ([Redis docs: Cluster specification, hash tags](https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags)).
#
# ## Exercise
# Predict before running: a dead consumer holds the oldest entries of a stream, and
# `XTRIM MINID` keeps only the newest ones. How many of its entries can another consumer
# still claim and process? (`ex.check` runs the lab with your numbers.)

# %%
ex = exercises.claimable_after_trim(run_streams_ops)
display(ex)

# %%
answer = ...  # entries XAUTOCLAIM hands to s2 with their data
ex.check(answer)

# %% [markdown]
# Stuck? Run `ex.reveal()` in a new cell.

# %% [markdown]
# ## Part 3 · Persistence and failover
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
from labs.attempt import Attempt
from labs.exercises import redis_durability as failover_exercises
from labs.experiments import get
from labs.lessons import check
from labs.twins.registry import twin
from sim.course.failover import failover_figure
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
    ex3 = failover_exercises.failover_lost(real)
    display(ex3)

# %%
answer = ...  # acknowledged writes the promoted replica is missing at the higher rate
if experiment.ran():
    display(ex3.check(answer))

# %% [markdown]
# Stuck? Run `ex3.reveal()` in a new cell. Once checked, `print(result.table())` shows the
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
# ## Summary
# - Watch the PEL, not only the lag: `XINFO GROUPS` (`pending`, `lag`), `XINFO CONSUMERS`
#   (`pending`, `idle`), `XPENDING` (per entry: owner, idle time, delivery count).
# - The delivery count drives dead letters: after N deliveries move the record to a
#   dead-letter stream (`XADD` + `XACK` in one `MULTI`). Transient failures die out as
#   $p^N$; poison is dead-lettered whatever N is.
# - `XGROUP DELCONSUMER` drops the consumer's pending entries for good: claim them first.
# - Trimming (`MAXLEN ~`, `MINID`) ignores consumer groups on Redis 7.0: it deletes pending
#   entries (the PEL keeps their ids; `XAUTOCLAIM` returns them as deleted) and unread ones
#   (the lag still counts them).
# - Per-key order needs one stream per shard, one consumer each, retrying in place --
#   Kafka's partitions, built by hand.
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
# - Next: [16 · Rebalancing](16_rebalancing.ipynb).

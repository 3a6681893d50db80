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
# # 13 · Durability under broker failure: what "acknowledged" means
#
# Every lesson so far trusted one thing: once Kafka **acknowledged** a `send`, the event is
# in the log. But a broker is a process on a machine, and machines die. What does the
# acknowledgement promise when the **partition leader** dies a moment later?
#
# It depends on a producer setting, `acks`:
#
# - `acks=1`: the leader answers as soon as *it* has appended the write;
# - `acks='all'` (with `min.insync.replicas=2`): it answers only once every replica still
#   in sync (the **ISR**) has the write, and refuses writes when fewer than two are in sync.
#
# This lesson runs both on a **real 3-broker cluster** (plus a KRaft controller of its own)
# and breaks it on purpose, the way Jepsen tests databases: a producer records every send
# (acknowledged, failed, or unknown after a timeout), faults hit the brokers on a schedule,
# a final read of the whole partition shows what survived, and the course's checker
# counts acknowledged writes that were **lost**.
#
# Terms: [glossary](glossary.md) ([acks](glossary.md#acks), [ISR](glossary.md#isr),
# [ELR](glossary.md#elr), [high watermark](glossary.md#high-watermark),
# [min.insync.replicas](glossary.md#min-insync-replicas)) · defaults:
# [cheat sheet](defaults.md#kafka-broker)

# %%
# %matplotlib inline
from IPython.display import display

from labs.attempt import Attempt
from labs.durability import SCHEDULES, Fault, compare, plot_timeline
from labs.exercises import late
from sim.course.durability import simulate_durability

# %% [markdown]
# ## The fault schedule is data
# The followers of the partition stall (SIGSTOP, like a long garbage-collection pause) for
# 1.5 s. The leader goes on acknowledging `acks=1` writes alone. 0.8 s into the stall the
# leader is killed (SIGKILL: the process dies at once). Then every broker comes back,
# and a *drain* reads the partition from the beginning.
#
# A SIGKILL is not a power cut: what the process wrote survives in the machine's page
# cache. Kafka acknowledges a write before any fsync (by default it never forces one:
# `log.flush.interval.messages` and `.ms` are unset) and relies on the replicas instead,
# so a power loss that takes every replica at once can lose `acks=all` writes too
# ([Kafka docs: application vs. OS flush management](https://kafka.apache.org/documentation/#appvsosflush)).
# This lab kills processes; it shows what replication protects, not what disks do.
#
# A frozen follower stays in the ISR until the leader drops it (`replica.lag.time.max.ms`,
# 10 s on this cluster) or the controller fences it for missed heartbeats
# (`broker.session.timeout.ms`, 3 s). Thawed after 1.5 s, the followers are still in sync
# when the controller notices the dead leader, so it elects one of them -- a *clean*
# election, unclean election stays off -- and that new leader never fetched the writes of
# the stall. (A longer stall loses them too on Kafka 4.1: a fenced follower is kept as an
# *eligible leader replica* and elected once it is back. Try it with the simulator below.)

# %%
schedule = SCHEDULES["frozen-followers-short"]
for fault in schedule:
    print(fault)

# %% [markdown]
# ## Both settings, the same faults
# `compare` starts the cluster if it is not running (about 15 s; `python -m labs.stack up
# --cluster` keeps one running), creates two topics whose only partition lives on the same
# three brokers, and sends the same numbered values to both at 150 per second for 5 s --
# one producer with `acks=1` (idempotence off), one with `acks='all'` (idempotence on).
# About 20 s in all with the cluster running, 45 s when it must start first. If this cell
# fails, the cells below say so (and why) instead of running.

# %%
experiment = Attempt(
    "compare", compare, schedule="frozen-followers-short", rate_per_s=150, duration_s=5
)
results = experiment.run()
print("fault log of the acks=1 run (seconds since the first send):")
for t, what in results["acks=1"].params["fault_log"]:
    print(f"  {t:6.2f} s  {what}")

# %% [markdown]
# ## Exercise: predict, then look
# Before the next cells show what the final read found: from the fault log above, compute
# how many writes the leader acknowledged **alone** -- between the freeze of its followers
# and its own death. `acks=1` loses them when a follower that never fetched them is elected.
# The check compares your number with the writes this run really lost (within 25 %).

# %%
if experiment.ran():
    ex = late.durability_lost(results["acks=1"])
    display(ex)

# %%
answer = ...  # acknowledged writes that acks=1 lost
if experiment.ran():
    display(ex.check(answer))

# %% [markdown]
# Stuck? Run `ex.reveal()` in a new cell.
#
# ## What the final read found
# The `acks=all` run's table is below; the `acks=1` run's `lost` count is the exercise's
# answer, so its table waits for you: `print(results["acks=1"].report.table())`, once you
# have checked your answer.

# %%
if experiment.ran():
    print(results["acks=all"].report.table())

# %% [markdown]
# The exact counts move from run to run (by a few writes: thread scheduling, when the
# controller notices the dead leader). What never moves:

# %% tags=["nbval-check-output"]
if experiment.ran():
    one, all_ = results["acks=1"].report["drain"], results["acks=all"].report["drain"]
    print("acks=1 lost acknowledged writes:", one.lost > 0)
    print("acks=all lost acknowledged writes:", all_.lost > 0)
    print("acks=all duplicated writes:", all_.duplicated > 0)

# %% [markdown]
# ## What decided it: the settings, and the fault log with times
# Every result carries the settings that decide the outcome and what the lab did to the
# cluster, when (seconds since the first send).

# %%
if experiment.ran():
    r = results["acks=1"]
    print("\n".join(f"{k} = {v}" for k, v in {**r.settings, **r.metrics}.items()))

# %% [markdown]
# ## The timeline
# Top: each dot is one send, at the time it was sent (x) and by its number (y). Shaded: the
# followers frozen (blue) and the leader down, from its kill to its restart (red). Red
# crosses: writes the producer was told were stored -- and that the final read did not
# find. Bottom: how long each acknowledgement took.

# %%
if experiment.ran():
    fig = plot_timeline(results["acks=1"])

# %%
if experiment.ran():
    fig = plot_timeline(results["acks=all"])

# %% [markdown]
# `acks=1` acknowledged the writes of the freeze at once -- and lost them. `acks=all` did
# not acknowledge them until the followers had them: the producer waited, retried on the
# new leader, and got its answers seconds late (bottom panel) -- but lost none. Durability
# is paid for in latency during the failure.
#
# ## The simulator's twin
# The twin (`sim.course.durability`) follows the same rules in a few lines: followers replicate
# instantly unless frozen; a frozen follower stays in the ISR until fenced; when the leader
# dies an ISR follower takes over. It predicts the loss from the schedule alone:
# rate x (kill time - freeze time).

# %%
for acks in (1, "all"):
    twin = simulate_durability(acks=acks, schedule=schedule, rate_per_s=150, duration_s=5)
    if experiment.ran():
        lost, predicted = results[f"acks={acks}"].report["drain"].lost, twin.report["drain"].lost
        agree = abs(lost - predicted) <= 0.25 * max(predicted, 1)
        print(f"acks={acks}: the twin's count and the cluster's agree within 25 %: {agree}")

# %% [markdown]
# A longer stall -- 5 s, longer than `broker.session.timeout.ms` -- gets the followers
# fenced. Whether `acks=1` still loses depends on Eligible Leader Replicas (on in Kafka 4.1,
# off in older clusters): with it a thawed follower is elected; without it the partition
# stays offline until the old leader is back, with all its writes.

# %% tags=["nbval-check-output"]
long_stall = (
    Fault("freeze-followers", "partition:0", 1.0, 5.0),
    Fault("kill-leader", "partition:0", 3.0),
    Fault("restart-all", "cluster", 8.0),
)
for elr in (True, False):
    twin = simulate_durability(
        acks=1, schedule=long_stall, duration_s=10, eligible_leader_replicas=elr
    )
    row = twin.report["drain"]
    print(f"eligible leader replicas {elr!s:5}: {row.lost} lost, {row.unknown} unknown")

# %% [markdown]
# ## Summary
# - `acks=1` means "the leader has it": a leader that dies before its followers copied a
#   write takes it along, although the producer was told it was stored.
# - `acks='all'` with `min.insync.replicas=2` and idempotence lost nothing and duplicated
#   nothing here: acknowledged means "on every in-sync replica", and retries are deduplicated.
# - For critical events: `acks='all'`, `min.insync.replicas=2`, replication factor 3,
#   unclean leader election off -- and treat a timeout as "unknown", never as "failed".
# - Next: [14 · Reconnects](14_reconnects.ipynb) -- what a subscriber misses across a
#   reconnect, and how it notices.

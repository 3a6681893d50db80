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
# # 16 · Rebalancing, zombies and partitioners
#
# A payments service runs ten consumers in one group. Every deploy restarts them one by
# one, and every restart changes the group's membership: a **rebalance**. With Kafka's
# classic *eager* protocol each one stops *every* partition of the group for a moment --
# ten deploys' worth of pauses, and a lag alert each time. One consumer makes a slow call
# (or a long GC pause) and stops polling: the group removes it and hands its partitions to
# another member, but it wakes up and finishes the batch in its hands -- a **zombie**
# charging a card the new owner charges too. And a second service, written in Go, publishes
# to the same keyed topic through librdkafka: its events for a key land on *another*
# partition than the Python service's, and per-key order is gone without any error.
#
# This lesson shows the three on the simulator and on the course's broker, Kafka 4.1.1,
# with kafka-python 3.0.12 and confluent-kafka 2.16.1 (librdkafka 2.16.0).
# Terms: [glossary](glossary.md) ([rebalance](glossary.md#rebalance),
# [static membership](glossary.md#static-membership), [partitioner](glossary.md#partitioner))
# · defaults: [cheat sheet](defaults.md#kafka-clients)
# · sources: [KIP-429](https://cwiki.apache.org/confluence/display/KAFKA/KIP-429%3A+Kafka+Consumer+Incremental+Rebalance+Protocol)
# (cooperative rebalancing),
# [KIP-848](https://cwiki.apache.org/confluence/display/KAFKA/KIP-848%3A+The+Next+Generation+of+the+Consumer+Rebalance+Protocol)
# (the consumer group protocol, GA in Kafka 4.0),
# [KIP-345](https://cwiki.apache.org/confluence/display/KAFKA/KIP-345%3A+Introduce+static+membership+protocol+to+reduce+consumer+rebalances)
# (static membership) and the consumer configs
# [`max.poll.interval.ms`](https://kafka.apache.org/41/documentation/#consumerconfigs_max.poll.interval.ms),
# [`group.instance.id`](https://kafka.apache.org/41/documentation/#consumerconfigs_group.instance.id).

# %%
# %matplotlib inline
from IPython.display import display

from labs.exercises import rebalancing
from labs.experiments.lessons import CONTROLS
from labs.partitioners import run_add_partitions, run_partitioners
from labs.rebalance import run_rebalance
from labs.twins.zombie import ZombieTwin
from sim.course.rebalancing import pause_figure
from sim.course.widgets import explore
from sim.models.rebalance import PROTOCOLS, moved_on

controls = CONTROLS["16_rebalancing"].widgets()

# %% [markdown]
# ## Three rebalance protocols, simulated
# A group of `members` consumers reads a topic of `partitions` partitions. Then one member
# joins, the last one leaves, or the last one **restarts** (away 2 s, as in a rolling
# deploy). The simulator (`sim.models.rebalance`) follows the three protocols:
#
# - **eager** (the classic protocol's original behaviour): every member revokes *every*
#   partition, and the new assignment arrives one round (`rebalance_ms`) later;
# - **cooperative** (KIP-429, the `cooperative-sticky` assignor): members keep their
#   partitions during a first round; only the partitions that move are revoked, and handed
#   over in a second round;
# - **consumer** (KIP-848, `group.protocol=consumer`): the broker computes the assignment;
#   each member learns its part at its next heartbeat (every
#   `group.consumer.heartbeat.interval.ms`, 5 s by default): no barrier, but heartbeat-paced.
#
# A restart is a leave and a join: two rebalances. With **static membership** (KIP-345:
# each member has a `group.instance.id`) a member that comes back within
# `session.timeout.ms` gets its partitions back with no rebalance at all. Move the controls:

# %%
explore(pause_figure, **controls)

# %% [markdown]
# Eager stops every partition on every change; cooperative and consumer stop only the
# partitions that move -- on a join, the newcomer's share floor(P/(m+1)); on a leave, the
# leaver's partitions. But *how long* they stop differs: cooperative takes two rounds for
# a moved partition, and the consumer protocol waits for heartbeats, so with the default
# 5 s interval its fewer stops last seconds each (the right panel).
# Static membership makes a quick restart free of rebalances: the restarting member's
# partitions wait for it (nobody else takes them), and nobody else stops.
#
# ## The same on the real broker
# `run_rebalance` grows a group of 2 members on a 6-partition topic (one member joining at
# a time), then a third member joins, and measures from the members' rebalance callbacks
# each span a partition had no owner. `eager` and `cooperative` run kafka-python 3.0.12
# (range and cooperative-sticky assignors, 100 ms heartbeats); `consumer` runs
# confluent-kafka 2.16.1 with `group.protocol=consumer` against the broker's default
# 5 s heartbeat interval. The members do real work: `process_ms=20` per record, at most
# `max_poll_records=50` records per poll -- up to a second per batch, and a member takes
# part in a rebalance only at its next poll, once its batch is done.
#
# **Predict first**: most partitions keep their member through the join -- 4 of the 6
# with the sticky assignors (the joiner takes 2), 3 or 4 with eager's range assignor (it
# deals out the ranges again, in the order of the member ids, wherever the joiner's falls).
# Under which protocols do those stop all the same?
# And which protocol has the fewest partition-seconds without an owner in total? About
# 40 s for the three:

# %%
small = dict(partitions=6, members=2, rate_per_s=50, after_s=0)
working = dict(small, rate_per_s=100, process_ms=20, max_poll_records=50)
runs = {p: run_rebalance(protocol=p, event="join", **working) for p in PROTOCOLS}
for p, r in runs.items():
    m = r.metrics
    print(
        f"{p:11} partitions stopped {m['stopped_partitions']:.0f}, "
        f"partition-seconds without an owner {m['unowned_partition_s']:.2f} "
        f"(of the {m['kept_partitions']:.0f} that did not move: "
        f"{m['kept_unowned_partition_s']:.2f}), "
        f"longest {m['max_unowned_s']:.2f} s, all owned again {m['reowned_s']:.2f} s after the join"
    )

# %% tags=["nbval-check-output"]
stopped = {p: r.metrics["stopped_partitions"] for p, r in runs.items()}
kept_pause = {p: r.metrics["kept_unowned_partition_s"] for p, r in runs.items()}
print("eager stopped every partition:", stopped["eager"] == 6)
print("eager stopped the partitions that did not move too:", kept_pause["eager"] > 0)
for p in ("cooperative", "consumer"):
    print(f"{p} stopped fewer than eager:", stopped[p] < stopped["eager"])
    print(f"{p} stopped the joiner's share:", stopped[p] == moved_on(p, "join", 6, 2))
    print(f"{p} never stopped the partitions that did not move:", kept_pause[p] == 0)
print("nothing lost:", all(r.report["group:members"].lost == 0 for r in runs.values()))

# %% [markdown]
# The counts are the simulator's (cell "three rebalance protocols, simulated" with a join,
# 6 partitions, 2 members): every partition for eager, the joiner's 2 for the other two.
# The pause that matters is in the parentheses (cell "the same on the real broker"): under
# eager a member that finished its batch has revoked *everything* and waits for the other
# member's batch and the round, so partitions that end up with the same member stop all
# the same -- for up to a batch's processing time; cooperative and the consumer protocol
# never stop them: those members go on processing throughout the rebalance.
#
# The *total* is another matter, and it need not favour the newer protocols on one broker.
# Cooperative's moved partitions wait for a second round, which kafka-python starts at each
# member's next poll -- after one more batch; the consumer protocol's wait for the members'
# next heartbeats, up to the 5 s interval (`group.consumer.heartbeat.interval.ms`; a group
# may set a shorter `consumer.heartbeat.interval.ms`, but not below the broker's
# `group.consumer.min.heartbeat.interval.ms`, 5 s by default in Kafka 4.1). Eager's cost grows
# with the group: its barrier waits for the *slowest* of all members' batches and stops
# every partition each time, where cooperative moves only a share 1/(m+1) of them -- and on
# a real cluster a round is much longer than here. A rolling deploy of *n* members is *2n*
# membership changes.
#
# ## Static membership for rolling deploys
# Give every member a stable `group.instance.id` (its pod or host name) and a
# `session.timeout.ms` longer than a restart (45 s by default since Kafka 3.0). A static
# member does not send a LeaveGroup when it closes; when it comes back with the same id
# within the session timeout, the coordinator hands it its old assignment without a
# rebalance (KIP-345). `run_rebalance(event="restart")` closes the last of 2 members and
# starts its replacement at once, as a rolling deploy does -- once with dynamic members,
# once with `static=True` (kafka-python 3.0.12, eager; about 8 s):

# %%
restarts = {
    static: run_rebalance(protocol="eager", event="restart", static=static, **small)
    for static in (False, True)
}
for static, r in restarts.items():
    m = r.metrics
    print(
        f"{'static' if static else 'dynamic':7} partition stops {m['unowned_spans']:.0f}, "
        f"callbacks of the member that stayed {m['others_callbacks']:.0f}, "
        f"partition-seconds without an owner {m['unowned_partition_s']:.2f}"
    )

# %% tags=["nbval-check-output"]
dynamic, static = restarts[False].metrics, restarts[True].metrics
print("dynamic restart: the other member was rebalanced:", dynamic["others_callbacks"] > 0)
print("static restart: the other member was not:", static["others_callbacks"] == 0)
print(
    "static restart: only the restarted member's partitions waited:",
    static["stopped_partitions"] == 3,
)

# %% [markdown]
# The dynamic restart is a leave and a join: two eager rebalances, every partition stopped
# twice. The static one stops only the restarted member's own partitions, for as long as
# its restart takes, and the other member never notices. The price: a static member that
# really died keeps its partitions unprocessed until the session timeout expires -- no
# other member takes them over before.
#
# ## Zombies: a member stalled past `max.poll.interval.ms`
# A member that does not call `poll` for `max.poll.interval.ms` (5 min by default, 1 s
# here) is removed from the group, and its partitions go to another member from the last
# committed offset. But the stalled member still holds the batch it fetched: when it wakes
# up it processes the rest of it -- side effects the new owner performs too -- and only
# its commit is rejected (the group moved to a new generation). `ZombieTwin` runs the real
# lab (`run_zombie`: 200 records in one partition, batches of 20, committed after each;
# the member stalls 4 s after 7 records of its third batch) and the simulator
# (`sim.models.zombie`) side by side, with the theory (about 5 s):

# %%
zombie = ZombieTwin(batch=20, batches_before=2, stall_at=7).run()
display(zombie)

# %% tags=["nbval-check-output"]
z = zombie.real
print("the zombie did side effects after its removal:", z.metrics["zombie_duplicates"] > 0)
print("its commit was rejected:", z.metrics["commit_rejected"] == 1)
print("nothing lost:", z.report["group:zombie"].lost == 0)

# %% [markdown]
# The fenced commit protects the *offsets*, not the side effects: the charge was made
# twice. What helps: keep a poll loop's work well below `max.poll.interval.ms` (smaller
# `max.poll.records`, or hand slow work to another thread and `pause` the partitions),
# and make side effects idempotent (lesson 6: a dedupe key per event), or fence them with
# the same generation -- a transactional producer's `send_offsets_to_transaction` is
# rejected for a zombie just as its commit is.
#
# ## Partitioners across clients
# A key's partition is `hash(key) mod N`, and *which* hash is the client's choice: the
# Java producer and kafka-python use murmur2; librdkafka -- confluent-kafka, and the Go and
# .NET clients built on it -- defaults to `consistent_random` (CRC32). `run_partitioners`
# sends one key sequence (400 messages over 200 keys) to three 6-partition topics: with
# kafka-python, with confluent-kafka's default, and with confluent-kafka set to
# `partitioner=murmur2_random` (about 3 s):

# %%
part = run_partitioners(partitions=6, num_keys=200, messages=400)
print(part.settings["confluent-default"])
for pair in ("confluent-default", "confluent-murmur2_random"):
    moved = part.metrics[f"keys_moved:kafka-python:{pair}"]
    print(f"keys on another partition than kafka-python's, {pair}: {moved:.0f} of 200")

# %% tags=["nbval-check-output"]
moved_default = part.metrics["keys_moved:kafka-python:confluent-default"]
print("the defaults disagree on some keys:", moved_default > 0)
print(
    "murmur2_random agrees on every key:",
    part.metrics["keys_moved:kafka-python:confluent-murmur2_random"] == 0,
)

# %% [markdown]
# Most keys land elsewhere (for hashes spread evenly, two hashes pick the same one of six
# partitions one time in six). Two services writing the same key through the two defaults
# put its events in two partitions, read by different consumers at different speeds:
# per-key order is broken, silently. Set `partitioner=murmur2_random` on every librdkafka
# producer of a topic that Java or kafka-python producers also write.
#
# ## Adding partitions remaps keys
# The same happens with one client when a topic gets more partitions: a key's partition is
# `murmur2(key) mod N`, so going from N to M partitions moves every key with
# `hash mod N != hash mod M` -- for evenly spread hashes a share 1 - gcd(N, M)/M (lesson
# 5 simulated it). `run_add_partitions` sends 200 keys once each with kafka-python to a
# 6-partition topic, adds 2 partitions (the admin API's `create_partitions`, what
# `kafka-topics --alter --partitions` does), sends the same keys again and compares the
# delivery reports with the prediction (about 2 s):

# %%
grown = run_add_partitions(before=6, after=8, num_keys=200)
print(f"6 -> 8 partitions: {grown.moved} of {grown.keys} keys moved, ", end="")
print(f"theory {grown.theory_share:.0%} of evenly spread keys")

# %% tags=["nbval-check-output"]
print("the keys that moved are exactly murmur2's prediction:", grown.moved == grown.expected_moved)
print("most keys moved:", grown.moved > grown.keys / 2)

# %% [markdown]
# Every moved key's new events go to another partition than its old ones, still waiting
# there for a consumer: per-key order breaks across the change (and a real producer
# switches only at its next metadata refresh, `metadata.max.age.ms`, 5 min by default).
# What to do instead: **size partitions up front** for the throughput you expect over the
# topic's life (a group can use no more members than partitions; each partition costs the
# brokers files, memory and replication work, so within reason), or **create a new topic**
# with more partitions and migrate: stop the producers, let the consumers drain the old
# topic, then point both at the new one.
#
# ## Exercise
# Predict first; the check runs the real zombie lab with your numbers.

# %%
ex = rebalancing.zombie_side_effects()
display(ex)

# %%
answer = {"zombie after waking": ..., "done twice": ...}
ex.check(answer)

# %% [markdown]
# Stuck? Run `ex.reveal()` in a new cell.
#
# ## Summary
# - Eager rebalancing stops every partition on every membership change -- with members
#   busy on their batches, the partitions that do not move too, for up to a batch's
#   processing time; cooperative (KIP-429) and the consumer protocol (KIP-848) stop only
#   the partitions that move -- cooperative's in two rounds, the consumer protocol's paced
#   by heartbeats, so a moved partition may wait longer than under eager while the others
#   never stop.
# - Static membership (KIP-345, `group.instance.id`) lets a member restart within
#   `session.timeout.ms` without any rebalance: the tool for rolling deploys.
# - A member stalled past `max.poll.interval.ms` is replaced but finishes its batch: its
#   commit is fenced, its side effects are not. Make them idempotent.
# - librdkafka's default partitioner places keys differently from Java and kafka-python;
#   use `murmur2_random`. Adding partitions remaps keys (1 - gcd(N, M)/M of them): size
#   partitions up front or migrate to a new topic.
# - Next: [17 · Compaction, transactions and the outbox](17_compaction_and_outbox.ipynb).

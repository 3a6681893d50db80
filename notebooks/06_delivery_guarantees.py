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
# # 6 · Delivery guarantees: commits, crashes, duplicates and idempotency
#
# A payment service consumes `PaymentCaptured` and writes the ledger. It crashes. When it
# restarts, which events does it process again, and which does it skip? That is decided by
# one line of code: **when the consumer commits its offset**.
#
# - commit **before** processing: a crash skips what was committed but not yet processed --
#   **at most once** (loss);
# - commit **after** processing: a crash repeats what was processed but not yet committed --
#   **at least once** (duplicates);
# - **auto-commit** every few seconds: at least once, with up to an interval's worth of
#   repeats -- *if* every record a `poll` returned is processed before the next `poll` (the
#   commit covers what was returned; hand records to another thread and it can commit
#   unprocessed ones: loss);
# - commit after, and make processing **idempotent** (dedupe by event id): the repeats are
#   recognised and skipped -- *effectively once*.
#
# Terms: [glossary](glossary.md) ([idempotent producer](glossary.md#idempotent-producer),
# [read_committed](glossary.md#read-committed)) · defaults:
# [cheat sheet](defaults.md#kafka-clients) (source for auto-commit: the Java
# `KafkaConsumer` reference, "Automatic Offset Committing",
# https://kafka.apache.org/41/javadoc/org/apache/kafka/clients/consumer/KafkaConsumer.html)

# %%
# %matplotlib inline
from IPython.display import display

import sim
from labs.exercises import early
from labs.experiments.lessons import CONTROLS
from labs.twins.idempotency import IdempotencyTwin
from sim.analysis import plots
from sim.analysis.compare import side_by_side
from sim.course.widgets import explore

# %% [markdown]
# ## Four commit policies, one crash, simulated
# 100 events in a one-partition topic, read by four groups, one per policy: `group:0`
# commits after, `group:1` commits after with a dedupe store, `group:2` commits before,
# `group:3` auto-commits every 5 s. Each polls 10 records at a time, takes 10 ms per event,
# and crashes at the same instant, then restarts from its group's committed offset.

# %%
policy = {
    "max_poll_records": 10,
    "service": {"mean_ms": 10},
    "auto_offset_reset": "earliest",
    "rebalance_ms": 0,
}
commits = {
    "name": "commit policies",
    "workload": {"messages": 100, "rate_per_s": 1000, "keys": 10, "arrivals": "constant"},
    "topology": {"log": {"partitions": 1}},
    "consumers": {
        "groups": [policy | {"commit": c} for c in ("after", "idempotent", "before", "auto")]
    },
    "faults": [["consumer_crash", f"group:{g}:0", 0.262, 0.1] for g in range(4)],
}
r = sim.run(commits, seed=0)

# %% tags=["nbval-check-output"]
print(r.report)
print("redelivered:", {g: int(r.metrics[f"redelivered:group:{g}"]) for g in range(4)})

# %% [markdown]
# In the table above (cell "four commit policies"): committing after gives duplicates and
# no loss; committing before gives loss and no duplicates; auto-commit repeats everything
# since its last tick; the idempotent group was redelivered as much as `group:0` (see
# `redelivered`) but processed nothing twice. Move the crash and the poll batch size:


# %%
def crash(crash_at_s, max_poll_records):
    changes = {f"consumers.groups.{g}.max_poll_records": max_poll_records for g in range(4)}
    changes |= {f"faults.{g}.start_s": crash_at_s for g in range(4)}
    return plots.comparison(sim.run(sim.load(commits).with_changes(**changes), seed=0))


explore(
    crash,
    **CONTROLS["06_delivery_guarantees"].widgets(),
)

# %% [markdown]
# Bigger batches mean more work between commits, so more duplicates (commit after) or
# more loss (commit before) per crash. Theory: with commit-after, **duplicates = events
# processed since the last commit**.
#
# ## The same on a real Kafka (and Redis for the dedupe store)
# `run_idempotency` sends 100 events to a one-partition topic. Three groups read them,
# committing every 10 events, and each consumer is killed -- client closed, no commit --
# right after its side effect for event #25; a new consumer resumes from the committed
# offset. The idempotent group performs its side effect only if `SET NX` of the event id
# in Redis succeeds. As a twin, the simulator replays the lab's key sequence with the same
# crash, and the theory column says what the commit positions imply (about 4 s):

# %%
twin = IdempotencyTwin(messages=100, crash_after=25, commit_every=10).run()
display(twin)

# %% [markdown]
# The twin leaves out the at-most-once group; here are all three real groups next to the
# simulator's matching groups from the start of the lesson:

# %%
lab = twin.real
side_by_side(
    r,
    lab,
    readers=(
        ["group:0", "group:1", "group:2"],
        ["group:commit-after", "group:idempotent", "group:commit-before"],
    ),
    columns=("acknowledged", "processed", "lost", "duplicated", "extra"),
)

# %% [markdown]
# The real consumer crashed after exactly 25 side effects, so its counts are exact, and
# the theory holds to the event:

# %% tags=["nbval-check-output"]
after, dedupe, before = (
    lab.report[f"group:{p}"] for p in ("commit-after", "idempotent", "commit-before")
)
print(
    "commit-after duplicated:",
    after.duplicated,
    "= theory",
    lab.metrics["expected_duplicates:group:commit-after"],
)
print(
    "idempotent duplicated:",
    dedupe.duplicated,
    "although redelivered:",
    lab.metrics["redeliveries:group:idempotent"],
)
print(
    "commit-before lost:", before.lost, "= theory", lab.metrics["expected_lost:group:commit-before"]
)

# %% [markdown]
# ## Duplicates from the producer, and the idempotent producer
# Duplicates can start before any consumer. A producer sends a batch, the broker writes it,
# and the acknowledgement is lost on the way back; the producer retries and the batch is
# written twice. With `enable_idempotence=True` (which requires `acks="all"`) the broker
# gives the producer an id, each batch carries a **per-partition sequence number**, and the
# partition leader drops a retried batch it already has and refuses one that skips ahead.
# That also keeps the order on retry with up to **5 requests in flight** per connection
# (without it, a retried batch can land behind a later one). It is **on by default**:
# Java client since 3.0, and in kafka-python 3.0.12, the version the course pins (off in
# librdkafka). A healthy local broker never loses an acknowledgement, so here only the
# simulator can show it: 1% of produce responses lost, with and without idempotence.

# %% tags=["nbval-check-output"]
flaky = {
    "workload": {"rate_per_s": 1000, "duration_s": 60},
    "topology": {"log": {"partitions": 6, "request_error_rate": 0.01}},
    "consumers": {"groups": [{"service": {"mean_ms": 0.5}}]},
}
for idempotent in (True, False):
    res = sim.run(
        sim.load(flaky).with_changes(**{"topology.log.enable_idempotence": idempotent}), seed=1
    )
    twice = res.metrics["producer_duplicates"]
    print(f"enable_idempotence={idempotent!s:5}  written twice: {twice:4.0f}", end="  ")
    print("duplicated at the consumer:", res.report["group:0"].duplicated)

# %% [markdown]
# The sequence numbers belong to one producer **session**: a producer that restarts gets a
# new id, and whatever the application re-sends through it -- including writes the broker
# had stored but never acknowledged -- is a new record. Simulated (`producer_restart`, with
# idempotence on), and the pinned client's defaults:

# %%
import kafka
from kafka import KafkaConsumer, KafkaProducer

restart = {
    "workload": {"rate_per_s": 1000, "duration_s": 6, "arrivals": "constant"},
    "topology": {"log": {"partitions": 1, "network_delay_ms": 5}},
    "consumers": {"groups": [{"service": {"mean_ms": 0.1}}]},
    "faults": [["producer_restart", "log", 3.0005, 0.2]],
}
res = sim.run(restart, seed=1)
print(f"idempotent producer restarted once, written twice: {res.metrics['producer_duplicates']:g}")
p, c = KafkaProducer.DEFAULT_CONFIG, KafkaConsumer.DEFAULT_CONFIG
print(f"kafka-python {kafka.__version__}: enable_idempotence={p['enable_idempotence']},", end=" ")
print(f"acks={p['acks']}, max_in_flight={p['max_in_flight_requests_per_connection']},", end=" ")
print(f"isolation_level={c['isolation_level']!r}")

# %% [markdown]
# ## Why "exactly once" is an end-to-end property
# Kafka's exactly-once (idempotent producer plus transactions) covers what stays inside
# Kafka: read from a topic, write to a topic, commit the offset -- atomically, for readers
# that set `isolation_level="read_committed"`. The default, `read_uncommitted` (Java and
# kafka-python, as printed above; librdkafka defaults to `read_committed`), also returns
# the records of open and aborted transactions
# ([`isolation.level`](https://kafka.apache.org/documentation/#consumerconfigs_isolation.level)).
# A consumer's side effects outside Kafka -- a database row, an e-mail, a call to a payment
# provider -- are not in that transaction. For those you get at-least-once delivery, and
# *exactly-once effect* only if the effect itself is idempotent:
#
# - a dedupe store keyed by event id, as the lab's `SET NX` (give it a TTL longer than any
#   redelivery can take);
# - better, write the dedupe key **in the same transaction** as the effect (an `INSERT ...
#   ON CONFLICT DO NOTHING` on the event id, in the ledger's own database). The lab writes
#   the key *before* the effect: a crash between the two would skip the effect -- loss again;
# - for external calls, pass the event id as the provider's idempotency key.
#
# ## Exercise
# A consumer commits after processing, in batches, and crashes right after processing one
# event; its twin commits each batch **before** processing it (the batch size and the crash
# point are in the next cell's question). How many events does the first process twice, and
# how many does the second lose? Predict both; the check runs the real lab with those numbers.

# %%
ex = early.commit_positions()
display(ex)

# %%
answer = {"commit-after duplicated": ..., "commit-before lost": ...}
ex.check(answer)

# %% [markdown]
# Stuck? Run `ex.reveal()` in a new cell.

# %% [markdown]
# ## Summary
# - Commit before processing: at most once (loss); after: at least once (duplicates on crash).
# - Idempotence makes repeats harmless: producer (`enable_idempotence`), consumer (dedupe by id).
# - Next: [7 · Backpressure](07_backpressure.ipynb) -- when a consumer is slow rather than gone.

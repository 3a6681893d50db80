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
# # 8 · Poison messages and dead letters
#
# Some event has a field the consumer cannot parse. Processing it fails -- every time. A
# Kafka consumer reads a partition **in order**, so it cannot skip ahead: while it retries
# the bad event, everything behind it on that partition waits. Retry forever and the
# partition is stuck for good; give up silently and the event is lost. And retries that
# block inside the poll loop must stay well under `max.poll.interval.ms` (5 minutes by
# default): a consumer that does not call `poll` for that long is removed from its group,
# its partitions move, and the poison record comes back -- to the next owner, from the last
# committed offset, with everything after it processed again
# ([Kafka docs: `max.poll.interval.ms`](https://kafka.apache.org/documentation/#consumerconfigs_max.poll.interval.ms)).
#
# The usual answer has three parts: **retries with backoff** (for failures that go away),
# a **dead-letter topic** (DLQ) for events that still fail, and **reprocessing** from the
# DLQ once the code is fixed.
#
# Terms: [glossary](glossary.md) ([rebalance](glossary.md#rebalance)) · defaults:
# [cheat sheet](defaults.md#kafka-clients)

# %%
# %matplotlib inline
from IPython.display import display

from labs.exercises import late
from labs.experiments import POISON
from labs.experiments.lessons import CONTROLS
from labs.poison import run_poison
from sim.analysis import plots
from sim.analysis.compare import side_by_side
from sim.core.engine import run
from sim.course.widgets import explore
from sim.models.dlq import retry_cost

# %% [markdown]
# ## The simulator
# 200 events/s for 10 s with 100 keys, on a topic of 6 partitions; each event takes 2 ms on
# average. A share of events is poison: the consumer tries each one `max_retries + 1` times,
# waiting `retry_backoff_ms`, then twice that, and so on, then writes it to the DLQ and moves on.


# %%
def poison(poison_fraction=0.01, max_retries=3, backoff_ms=100.0, consumers=1, seed=0):
    """Simulate the poison scenario with the learner's retry policy."""
    return run(
        {
            "name": "poison messages",
            "workload": {
                "rate_per_s": 200,
                "duration_s": 10,
                "keys": 100,
                "poison_fraction": poison_fraction,
            },
            "topology": {"log": {"partitions": 6}},
            "consumers": {
                "groups": [
                    {
                        "consumers": consumers,
                        "max_retries": max_retries,
                        "retry_backoff_ms": backoff_ms,
                        "service": {"kind": "exponential", "mean_ms": 2},
                    }
                ]
            },
            "drain_s": 10,
        },
        seed=seed,
    )


# %% [markdown]
# The plot shows the lag of every partition. Each step up is a poison event holding its
# partition through the retries. Raise the backoff or the retries and the steps grow; add
# consumers (up to one per partition) and a stuck partition no longer holds up the others.

# %%
explore(
    lambda **kw: plots.lag(poison(**kw), partitions=True),
    poison_fraction=POISON.params["poison_fraction"].widget(high=0.05, step=0.005, default=0.01),
    max_retries=POISON.params["max_retries"].widget(high=8),
    backoff_ms=POISON.params["backoff_ms"].widget(high=500, step=50, default=100.0),
    **CONTROLS["08_poison_messages"].widgets(),
)

# %% [markdown]
# With the defaults (seed 0), and with one consumer per partition:

# %% tags=["nbval-check-output"]
one, six = poison(), poison(consumers=6)
side_by_side(
    one,
    six,
    labels=["1 consumer", "6 consumers"],
    columns=("acknowledged", "processed", "lost", "p50 ms", "p99 ms"),
    metrics={"dead-lettered": "dlq", "peak lag (messages)": "peak_lag:group:0"},
)

# %% [markdown]
# Nothing is lost in either run: `group:0` processes every good event and every poison event
# reaches the DLQ (the `dead-lettered` row). What changes is the waiting behind the poison
# events: with one consumer for all six partitions, even the median event waits (p50); with
# one consumer per partition only the stuck partition waits (p99, peak lag).
#
# Each poison event holds its consumer for `max_retries + 1` attempts plus the backoffs
# b + 2b + 4b (with 2 ms per attempt and b = 100 ms):

# %% tags=["nbval-check-output"]
print(f"one poison event holds its partition {retry_cost(0.002, 3, 100):.3f} s")

# %% [markdown]
# ## The real broker
# `run_poison` sends 100 events to a one-partition Kafka topic. 5 % are poison, 10 % fail only
# on their first attempt (a timeout that a retry fixes). `group:main` retries with backoff,
# dead-letters what still fails (with the error and the source offset in headers) and commits
# the source offset only once the DLQ write is acknowledged. Then `group:dlq-reprocess` -- the
# fixed code -- processes the DLQ. `pipeline` is both together. It takes about 4 s.

# %%
lab = run_poison(
    messages=100,
    poison_fraction=0.05,
    transient_fraction=0.1,
    max_retries=3,
    backoff_ms=10,
    num_keys=10,
    seed=0,
)
print(lab.report.table())
print({k: lab.metrics[k] for k in ("poison", "transient", "dlq")})

# %% [markdown]
# The counts come from the seed, not from timing, so they are checked:

# %% tags=["nbval-check-output"]
r, m = lab.report, lab.metrics
print("every poison event reached the DLQ:", m["dlq"] == m["poison"])
print("transient failures recovered by a retry:", m["recovered_by_retry"] == m["transient"])
print("nothing lost end to end:", r["pipeline"].lost == 0 and r["pipeline"].unseen == 0)
print("each event processed once end to end:", r["pipeline"].duplicated == 0)
print("but reprocessed events come after later events of their key:", r["pipeline"].reordered > 0)

# %% [markdown]
# The last line is the price of a DLQ: a dead-lettered event is processed *after* later
# events of the same key. If the consumer keeps per-key state, it needs a version check
# (ignore an update older than what it has) or must drain the DLQ before going on with that key.
#
# ## Side by side
# The simulator's twin of the lab (`POISON.build_scenario`, declared with the lab in
# `labs/experiments/poison.py`): 100 events, 5 % poison, one partition, the same retries.
# The simulator draws poison events at random, so its count differs a little from the lab's.

# %%
twin = run(
    POISON.build_scenario(messages=100, poison_fraction=0.05, max_retries=3, backoff_ms=10.0),
    seed=0,
)
side_by_side(
    twin,
    lab,
    columns=("acknowledged", "processed", "lost", "duplicated"),
    metrics={"poison events": ["dlq", "poison"], "dead-lettered": "dlq"},
)

# %% [markdown]
# ## Exercise
# In the lab, `group:main` retried each transient event once (the retry worked) and each
# poison event `max_retries` times before dead-lettering it. With the poison and transient
# counts printed by the lab above, how many retries did it make?

# %%
ex = late.poison_retries(lab)
display(ex)

# %%
answer = ...  # number of retries
ex.check(answer)

# %% [markdown]
# Stuck? Run `ex.reveal()` in a new cell.
#
# ## Summary
# - A poison event blocks its partition for every retry and backoff: bound the retries, then
#   dead-letter the event with its error and source offset, and commit only after that.
# - Nothing is lost and the partition moves on; after a fix, reprocess the DLQ -- and handle
#   the reordering that causes for per-key state.
# - Next: [9 · Redis Streams](09_redis_streams.ipynb), the middle ground.

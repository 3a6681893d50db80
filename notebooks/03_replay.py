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
# # 3 · Replay: offsets, consumer groups, seek and retention
#
# A recommendations team ships a new service an hour into the day. It needs the orders
# that happened *before* it existed. On Pub/Sub there is nothing to ask for: the past was
# never stored. On Kafka the past is the log, and every reader keeps its own bookmark in it --
# an **offset** per partition, stored per **consumer group**. A new group can start at the
# beginning, at the end, at an offset or at a timestamp, and several groups read the same
# events without disturbing each other. The limit is **retention**: what the broker has
# deleted cannot be replayed.
#
# Terms: [glossary](glossary.md) · defaults: [cheat sheet](defaults.md)

# %%
# %matplotlib inline
from IPython.display import display

import sim
from labs.exercises import early
from labs.experiments import REPLAY
from labs.experiments.lessons import CONTROLS
from labs.replay import run_replay
from sim.analysis import plots
from sim.analysis.compare import side_by_side
from sim.course.widgets import explore

# %% [markdown]
# ## A new service bootstraps from history, simulated
# The bundled scenario `new_service_bootstrap`: 50 orders/s for 90 minutes into a
# 4-partition topic kept for 45 minutes. `group:0` (the orders service) reads live from the
# start; `group:1` (recommendations) joins at minute 60 with `auto_offset_reset=earliest`.

# %%
boot = sim.load("new_service_bootstrap")
r = sim.run(boot, seed=1)

# %% tags=["nbval-check-output"]
print(r.report)
print("group:1 peak lag:", r.metrics["peak_lag:group:1"], "messages")
print(f"group:1 caught up {r.metrics['catch_up_s:group:1']:.0f} s after joining")

# %% [markdown]
# In the table above (cell "bootstraps from history"), `group:1` processed everything still
# retained -- about three quarters of an hour of history, in a couple of minutes -- while
# `group:0`, reading the same partitions, was untouched. What `group:1` did not get is
# *lost*: the first quarter of an hour had already passed retention when it joined.
#
# Try it: when the new service joins, how long the broker keeps events, and where a new
# group starts. With `latest` it skips the history entirely -- the default for a new group
# in most clients, and a common surprise.


# %%
def bootstrap(join_min, retention_min, auto_offset_reset):
    changes = {
        "consumers.groups.1.join_at_s": 60 * join_min,
        "consumers.groups.1.auto_offset_reset": auto_offset_reset,
        "topology.log.retention_ms": 60_000 * retention_min,
    }
    return plots.lag(sim.run(boot.with_changes(**changes), seed=1))


explore(
    bootstrap,
    **CONTROLS["03_replay"].widgets(),
)

# %% [markdown]
# ## Offsets and seek on a real Kafka
# `run_replay` writes 300 keyed events to a 3-partition topic, then reads them back six ways:
#
# | reader | how it starts |
# |---|---|
# | `group:early` | a group that reads everything and commits |
# | `group:late` | a second group, created afterwards, `auto_offset_reset='earliest'` |
# | `group:late-latest` | a late group with `auto_offset_reset='latest'` |
# | `seek:offset` | `assign()` + `seek(tp, 40)` on every partition |
# | `seek:timestamp` | `offsets_for_times()` at the first event of the second half, then `seek` |
# | `group:offline` | a topic with `retention.ms` = 1 s: reads, commits, stays away longer |
#
# Beside it, the simulator twin: the same 300 events and readers as the experiment's scenario
# (`REPLAY.build_scenario`, declared with the lab in `labs/experiments/replay.py`; the
# simulator's groups are numbered in the order of the table; a `latest` group that joins
# after the last event expects nothing, so its row is empty where the lab's shows *unseen*).
# About 3 s.

# %%
lab = run_replay(messages=300, partitions=3, num_keys=30, seek_offset=40, seed=0)
side_by_side(
    sim.run(REPLAY.build_scenario(messages=300, partitions=3, num_keys=30, seek_offset=40), seed=0),
    lab,
    columns=("acknowledged", "processed", "lost", "unseen"),
)

# %% [markdown]
# The table above (cell "offsets and seek on a real Kafka") reads:
# - `group:late` replayed the whole history although `group:early` had committed it all:
#   **offsets belong to a group**, so groups are independent readers of one log;
# - `group:late-latest` processed nothing: it started at the end;
# - `seek:offset` read each partition from offset 40 on, `seek:timestamp` exactly the second
#   half -- replay from a point, without touching any group's commits;
# - `group:offline` lost what retention deleted while it was away. The same happens in the
#   simulator (lesson 2, cell "past retention") and in `group:1` above.
#
# Its stable facts, checked on every test run:

# %% tags=["nbval-check-output"]
rows = lab.report
print(
    "late group replayed everything:",
    rows["group:late"].processed == rows["group:late"].acknowledged,
)
print("late 'latest' group read nothing:", rows["group:late-latest"].processed == 0)
print(
    "seek to timestamp read the second half:",
    rows["seek:timestamp"].processed == lab.metrics["second_half_messages"],
)
print("offline past retention lost events:", rows["group:offline"].lost > 0)

# %% [markdown]
# `lab.settings["retention enforced by"]` says who deleted the old segment. Time-based
# deletion is the broker's *log manager* retention task, which runs every
# `log.retention.check.interval.ms` (5 minutes by default; the course's stack sets 1 s),
# not the *log cleaner* -- that one compacts ([glossary](glossary.md#compaction)). The task
# deletes a [segment](glossary.md#segment) only once its newest record is older than
# `retention.ms`, and the active segment rolls only after `segment.ms` (7 days by default),
# so the lab sets `segment.ms` to a quarter of its retention: otherwise one open segment
# would hold every record for a week ([cheat sheet](defaults.md#kafka-broker)). When the
# broker checks too rarely for a short lab, the lab deletes the expired records itself with
# `delete_records` -- the same effect, sooner:

# %%
print({k: v for k, v in lab.settings.items() if k.startswith(("retained topic", "retention"))})

# %% [markdown]
# ## Exercise
# Back to the simulated bootstrap (cell "bootstraps from history"), with a join time and a
# retention of your own (in the next cell's question). **How many orders can the
# recommendations service never read?** Predict it from the rate, the join time and the
# retention; the check runs the simulator, and within 5% counts as right.

# %%
ex = early.bootstrap_loss(boot)
display(ex)

# %%
answer = ...  # orders lost by group:1
ex.check(answer)

# %% [markdown]
# Stuck? Run `ex.reveal()` in a new cell.

# %% [markdown]
# ## Summary
# - A log keeps events; each consumer group has its own offsets, so groups replay independently.
# - `earliest`, `latest`, `seek(offset)` and `offsets_for_times` choose where a reader starts.
# - Next: [4 · Ordering](04_ordering.ipynb) -- what order a partitioned log does (not) promise.

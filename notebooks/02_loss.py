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
# # 2 · Loss: how much an outage costs on each model
#
# Lesson 1 showed that Pub/Sub turns an outage into loss and Kafka turns it into lag. An
# architect needs the numbers: **how many events** does a restart, a deploy or a network
# flap cost on Pub/Sub -- and is it true that Kafka **never** loses anything?
#
# This lesson answers both: the simulator with your downtime and rate, the same experiment
# on the real brokers, then the theory that predicts both -- and the one case where Kafka
# does lose data.
#
# Terms: [glossary](glossary.md) · defaults: [cheat sheet](defaults.md)

# %%
# %matplotlib inline
from IPython.display import display

import sim
from labs.exercises import early
from labs.experiments import LOSS
from labs.twins.lag import LagTwin
from labs.twins.loss import LossTwin
from sim.analysis import plots
from sim.course.widgets import explore

# %% [markdown]
# ## Downtime and rate, simulated
# The experiment of `labs.loss.run_loss` as a scenario (`LOSS.build_scenario`, declared once
# with the lab in `labs/experiments/loss.py`): events at `rate_per_s` for 4 s into a Pub/Sub
# channel and a one-partition Kafka topic; from second 1, the subscriber is down and the
# consumer (2.5 ms per event) has left its group, for `down_for_s` seconds.


# %%
def loss_run(rate_per_s, down_for_s):
    """The loss experiment's scenario (declared in `labs/experiments/loss.py`)."""
    return sim.run(LOSS.build_scenario(rate_per_s=rate_per_s, down_for_s=down_for_s), seed=0)


# %% [markdown]
# Move the sliders: the left panel is the share of events each reader lost, the right one
# the latency of what it did process.

# %%
downtime = LOSS.params["down_for_s"].widget(low=0.5, high=2.75)
rate = LOSS.params["rate_per_s"].widget(low=50, high=250, step=50)
explore(
    lambda rate_per_s, down_for_s: plots.comparison(loss_run(rate_per_s, down_for_s)),
    rate_per_s=rate,
    down_for_s=downtime,
)

# %% [markdown]
# Whatever you pick, the subscriber's red bar tracks the downtime and the consumer group's
# stays at zero; what Kafka pays instead is latency -- its p99 is about the outage length.
#
# ## The same experiment on real brokers
# The next cell runs the real lab `run_loss` **with the sliders' current values** (re-run it
# after moving them) as a *twin*: it first measures the brokers' timing (the calibration
# under the table: reconnect time, the consumer's real rate), then runs the lab, and the
# simulator on the same send instants and keys, and lines up theory, simulator and real
# broker. The theory: loss fraction = downtime / window. It takes about 8 s.

# %%
loss = LossTwin(rate_per_s=rate.value, window_s=4, down_from_s=1, down_for_s=downtime.value).run()
display(loss)

# %% [markdown]
# Read the table above (cell "the same experiment on real brokers") row by row: Redis lost
# the downtime's share of the events, in the simulator and for real, and Kafka lost none.
# Kafka's half deserves its own twin: while the consumer is away the log keeps the events,
# the **lag** peaks near rate x downtime and drains at (service rate - rate), so catching up
# takes about backlog / (service rate - rate). Here at a low rate, with the calibration just
# measured; the twin takes production-like rates too (about 20 s on real brokers:
# `LagTwin(rate_per_s=2000, service_rate_per_s=4000, window_s=12, down_from_s=3,
# down_for_s=3).run()`). This one takes about 5 s:

# %%
lag = LagTwin().run(calibration=loss.calibration)
display(lag)

# %% [markdown]
# The real numbers in both tables move a little from run to run (thread scheduling, the
# time a reconnect really takes); what never moves is checked here:

# %% tags=["nbval-check-output"]
print("Redis Pub/Sub lost events:", loss.real.report["subscriber:0"].lost > 0)
print(
    "Kafka lost events:", loss.real.report["group:0"].lost, "and", lag.real.report["group:0"].lost
)
print("Kafka processed every acknowledged event:", loss.real.report["group:0"].unseen == 0)

# %% [markdown]
# ## The theory: loss fraction = downtime fraction
# With Poisson arrivals an outage sees the same traffic as any other stretch of time
# ("Poisson arrivals see time averages"), so a subscriber away for a fraction *f* of the
# window loses a fraction *f* of the events -- whatever the rate. The simulator over a
# minute at 1000 events/s, for three downtimes:

# %% tags=["nbval-check-output"]
minute = {
    "workload": {"rate_per_s": 1000, "duration_s": 60},
    "consumers": {"subscribers": [{"reconnect_delay_ms": 0}]},
    "faults": [["subscriber_down", "subscriber:0", 10, 6]],
}
for down_s in (6, 15, 30):
    r = sim.run(sim.load(minute).with_changes(**{"faults.0.duration_s": down_s}), seed=2)
    print(
        f"down {down_s / 60:.0%} of the window -> lost {r.report['subscriber:0'].loss_fraction:.2%}"
    )

# %% [markdown]
# Two consequences worth keeping. Loss scales with **downtime, not with load**: a quiet
# channel loses as large a *share* as a busy one. And every restart costs its reconnect time
# too -- in production, a deploy of a Pub/Sub consumer is an outage.
#
# ## When Kafka loses data: past retention
# Kafka keeps events for [`retention.ms`](glossary.md#retention) (seven days by default:
# [cheat sheet](defaults.md#kafka-broker)), not forever, and deletes whole
# [segments](glossary.md#segment): a segment goes once its *newest* event is older than
# `retention.ms`, at the next retention check -- so an event lives *at least*
# `retention.ms`. A consumer that comes back after its committed offset was deleted finds
# it out of range and starts over per `auto_offset_reset`: with `earliest` at the oldest
# event still there (everything before it is gone), with `latest` -- the default -- at the
# end, skipping the retained rest too. Here retention is one minute, segments roll every
# second (`segment_ms`), retention is checked every second, and the consumer (`earliest`)
# is away for three minutes:

# %% tags=["nbval-check-output"]
past_retention = {
    "name": "offline past retention",
    "workload": {"rate_per_s": 100, "duration_s": 300},
    "topology": {
        "log": {
            "partitions": 3,
            "retention_ms": 60_000,
            "segment_ms": 1000,
            "retention_check_interval_ms": 1000,
        }
    },
    "consumers": {"groups": [{"auto_offset_reset": "earliest"}]},
    "faults": [["consumer_crash", "group:0:0", 60, 180]],
}
kept = sim.run(past_retention, seed=1)
print(kept.report)
print("theory: rate x (downtime - retention) =", 100 * (180 - 60))

# %% [markdown]
# The same outage with `latest` (the default), and with `earliest` but 50 s segments (a
# record goes only with its segment's newest one, so fewer are deleted by the return):

# %%
variants = {
    "earliest, 1 s segments (above)": {},
    "latest, 1 s segments": {"consumers.groups.0.auto_offset_reset": "latest"},
    "earliest, 50 s segments": {"topology.log.segment_ms": 50_000},
}
for label, changes in variants.items():
    res = sim.run(sim.load(past_retention).with_changes(**changes), seed=1)
    print(f"{label:31} lost {res.report['group:0'].lost:6d}")

# %% [markdown]
# Committed offsets expire too: once a group has had no member for
# [`offsets.retention.minutes`](glossary.md#offsets-retention) (7 days by default), its
# offsets are deleted and a returning consumer starts per `auto_offset_reset` although the
# log still holds everything. Here the simulated group's offsets expire after one minute
# empty; the consumer leaves at 60 s and returns at 180 s, long before the 7-day retention:

# %%
expiring = {
    "workload": {"rate_per_s": 100, "duration_s": 300},
    "topology": {"log": {"partitions": 3}},
    "consumers": {"groups": [{"offsets_retention_ms": 60_000}]},
    "faults": [["consumer_leave", "group:0:0", 60, 120]],
}
for reset in ("latest", "earliest"):
    res = sim.run(
        sim.load(expiring).with_changes(**{"consumers.groups.0.auto_offset_reset": reset}), seed=1
    )
    row = res.report["group:0"]
    print(f"offsets expired, {reset:8}: lost {row.lost:5d}, processed twice {row.duplicated:5d}")

# %% [markdown]
# So Kafka's guarantee is "nothing is lost **while the consumer is away for less than the
# retention period**" -- and for a group left empty longer than its offsets' retention,
# `latest` skips what it missed (`earliest` reads the whole log again). Lesson 3 shows the
# same deletion on the real broker.
#
# ## Exercise
# A cache-invalidation subscriber is redeployed at regular intervals, and each deploy
# disconnects it for a few seconds (your rate, interval and outage are in the next cell's
# question). What **fraction** of the invalidations does it miss? Predict it first; the check
# runs the simulator on that scenario, and within 5% of its answer counts as right.

# %%
ex = early.deploy_loss(minute)
display(ex)

# %%
answer = ...  # fraction of events lost, e.g. 0.1 for 10 %
ex.check(answer)

# %% [markdown]
# Stuck? Run `ex.reveal()` in a new cell.

# %% [markdown]
# ## Summary
# - Pub/Sub loses the share of events published while a subscriber is away: downtime / window.
# - Kafka loses nothing during an outage shorter than retention; it pays in lag and catch-up.
# - Next: [3 · Replay](03_replay.ipynb) -- offsets, groups, seek, and retention on a real broker.

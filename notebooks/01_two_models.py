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
# # 1 · Two models: an ephemeral channel and a durable log
#
# An order service publishes events. Two services read them: one subscribes to a **Redis
# Pub/Sub** channel, the other is a **Kafka** consumer group. On a good day both see every
# event, a millisecond after it is published, and the two designs look interchangeable.
#
# Now the question this course keeps asking: **what happens if a consumer is unavailable
# for ten minutes?** A deploy that hangs, a node that reboots, a network partition. This
# lesson runs exactly that, first in the simulator (ten real minutes of traffic, simulated
# in a second), then on the real brokers.
#
# Terms: [glossary](glossary.md) ([Pub/Sub channel](glossary.md#pubsub-channel),
# [offset](glossary.md#offset), [consumer group](glossary.md#consumer-group),
# [lag](glossary.md#lag)) · defaults: [cheat sheet](defaults.md)

# %%
# %matplotlib inline
from IPython.display import display

import sim
from labs.exercises import early
from labs.experiments import LOSS
from labs.experiments.lessons import CONTROLS
from labs.loss import run_loss
from sim.analysis import plots
from sim.analysis.compare import side_by_side
from sim.course.widgets import explore

# %% [markdown]
# ## Ten minutes away, simulated
# The scenario is plain data: 100 events a second for 30 minutes, one Pub/Sub subscriber
# and one Kafka consumer group (2 ms per event), and both readers down from minute 10 to
# minute 20.

# %%
ten_minutes = {
    "name": "ten minutes away",
    "workload": {"rate_per_s": 100, "duration_s": 1800},
    "consumers": {"subscribers": 1, "groups": [{"service": {"mean_ms": 2}}]},
    "faults": [
        ["subscriber_down", "subscriber:0", 600, 600],
        ["consumer_crash", "group:0:0", 600, 600],
    ],
}
r = sim.run(ten_minutes, seed=1)

# %% [markdown]
# The checker (the same one the real-broker labs use) counts, per reader, what was
# acknowledged, processed, **lost** (gone for good) and **unseen** (not read yet, but still
# there). Cell "checker, ten minutes":

# %% tags=["nbval-check-output"]
print(r.report)

# %% [markdown]
# Same traffic, same outage, two different endings. The subscriber's `lost` is every event
# published while it was away; the consumer group's is zero. The timeline shows where: red
# crosses are events lost, at the time they were published. Move the sliders -- the
# simulator re-runs and the figure redraws in place.


# %%
def two_models(downtime_min, rate_per_s):
    changes = {f"faults.{i}.duration_s": 60 * downtime_min for i in (0, 1)}
    scenario = sim.load(ten_minutes).with_changes(**changes, **{"workload.rate_per_s": rate_per_s})
    return plots.timeline(sim.run(scenario, seed=1))


explore(
    two_models,
    **CONTROLS["01_two_models"].widgets(),
)

# %% [markdown]
# The group lost nothing, but it did not process those events on time either: they waited
# in the log. Its **lag** -- events appended but not yet processed -- climbs during the outage
# and drains when the consumer is back:

# %%
plots.lag(r)

# %% tags=["nbval-check-output"]
for name in ("peak_lag:group:0", "peak_lag_time_s:group:0", "recovery_s:group:0"):
    print(f"{name} = {r.metrics[name]:.1f}")
print(f"theory, backlog / (mu - lambda) = {r.metrics['peak_lag:group:0'] / (500 - 100):.1f} s")

# %% [markdown]
# The consumer serves 500 events/s (2 ms each) while 100/s keep arriving, so it drains the
# backlog at 400/s: the last line is queueing theory's catch-up time, and the measured
# `recovery_s` above sits right next to it.
#
# So the two models fail differently. Pub/Sub turns an outage into **loss**; a log turns it
# into **delay** (lag, then a catch-up burst the consumer must be fast enough to absorb).
#
# ## The same experiment on real brokers
# `run_loss` does it for real, compressed to seconds: it `PUBLISH`es to Redis and `send`s to
# Kafka at 200 events/s for 4 s; from second 1 both readers go away for 1.5 s (the Redis
# connection is really closed; the Kafka consumer commits and leaves its group). Beside it,
# its simulator twin: the same parameters, as the experiment's scenario (`LOSS.build_scenario`,
# declared with the lab in `labs/experiments/loss.py`). The lab takes about 5 s.

# %%
settings = {"rate_per_s": 200, "window_s": 4, "down_from_s": 1, "down_for_s": 1.5}
lab = run_loss(**settings, seed=0)
plots.timeline(lab)

# %%
twin = sim.run(LOSS.build_scenario(**settings), seed=0)
side_by_side(twin, lab, columns=("acknowledged", "processed", "lost", "unseen", "loss %"))

# %% [markdown]
# The table above (cell "the same experiment on real brokers") puts the simulator and the
# real brokers next to each other. Real timing is not exactly reproducible -- how many
# events fall into the 1.5 s gap moves by a few from run to run -- but the shape never
# changes, and this cell's output is checked on every test run:

# %% tags=["nbval-check-output"]
print("Redis subscriber lost events:", lab.report["subscriber:0"].lost > 0)
print("Kafka group lost events:     ", lab.report["group:0"].lost)
print("PUBLISH returned 0 receivers at least once:", lab.metrics["publish_zero_receivers"] > 0)

# %% [markdown]
# That last line is the receipt from lesson 0 at work: while the subscriber was away,
# `PUBLISH` answered "0 receivers" -- and Redis dropped the message, exactly as designed.
#
# ## Exercise
# Back to the ten-minute scenario (cell "checker, ten minutes"), with a rate and an outage of
# your own (the next cell shows them). Predict **how many events the Pub/Sub subscriber
# loses**, from the rate and the downtime; the check runs the simulator on your numbers.

# %%
ex = early.subscriber_loss(ten_minutes)
display(ex)

# %%
answer = ...  # events lost by subscriber:0
ex.check(answer)

# %% [markdown]
# Stuck? Run `ex.reveal()` in a new cell.

# %% [markdown]
# ## Summary
# - Pub/Sub delivers to whoever is connected at publish time: an outage becomes **loss**.
# - A log keeps events and tracks each group's offset: an outage becomes **lag**, then catch-up.
# - Next: [2 · Loss](02_loss.ipynb) -- how much is lost, and when even Kafka loses data.

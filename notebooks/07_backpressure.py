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
# # 7 · Backpressure: when the consumer is slower than the producer
#
# A producer publishes 200 messages a second; the consumer manages 100. Half of every second's
# traffic has to wait *somewhere*. Where it waits decides what breaks:
#
# - **Redis Pub/Sub pushes.** What a subscriber has not read yet sits in the server's
#   per-client *output buffer*. `client-output-buffer-limit pubsub 32mb 8mb 60` caps it: past
#   32 MB, or above 8 MB for 60 s, Redis **closes the connection** and drops the buffer.
# - **Kafka pulls.** The consumer fetches at its own pace; the backlog stays in the log as
#   **lag**, and drains once the burst is over.
#
# Same slowness, two outcomes: lost messages, or late ones.
#
# Terms: [glossary](glossary.md) ([output buffer limit](glossary.md#output-buffer-limit),
# [lag](glossary.md#lag)) · defaults: [cheat sheet](defaults.md#redis-server)

# %%
# %matplotlib inline
from IPython.display import display

from labs.backpressure import run_backpressure
from labs.exercises import late
from labs.experiments import BACKPRESSURE
from sim.analysis import plots
from sim.analysis.compare import side_by_side
from sim.core.engine import load, run
from sim.course.widgets import explore

# %% [markdown]
# ## The simulator
# The lab's scenario (declared with it in `labs/experiments/backpressure.py`): 32 KB messages
# at a constant rate for 2 s, one Pub/Sub subscriber and one Kafka consumer group, both
# processing 100 messages/s, and a lowered buffer limit (256 KB hard, half of it for 60 s)
# so the effect shows in seconds, not minutes.


# %%
def backpressure(
    rate_per_s=200.0, service_rate_per_s=100.0, buffer_limit_bytes=262144, window_s=2.0, seed=0
):
    """The experiment's scenario (`labs/experiments/backpressure.py`) with the learner's
    rates, buffer limit and publishing time; both readers process `service_rate_per_s`
    (0 bytes = no limit, `0 0 0`: the backlog grows in the server's memory -- the simulator
    only: the lab always sets a limit)."""
    settings = {
        "rate_per_s": rate_per_s,
        "window_s": window_s,
        "message_bytes": 32768,
        "service_rate_per_s": service_rate_per_s,
        "slow_rate_per_s": service_rate_per_s,
    }
    scenario = BACKPRESSURE.build_scenario(
        **settings,
        buffer_limit_bytes=buffer_limit_bytes or BACKPRESSURE.defaults()["buffer_limit_bytes"],
    )
    if not buffer_limit_bytes:
        scenario = scenario.with_changes(
            **{"topology.pubsub.buffer_hard_bytes": 0, "topology.pubsub.buffer_soft_bytes": 0}
        )
    return run(scenario, seed=seed)


# %% [markdown]
# Move the sliders: the timeline marks every message the subscriber lost (red, at its
# publish time). Set the buffer limit to *off* (`client-output-buffer-limit pubsub 0 0 0`):
# nothing is dropped, but the backlog (and the latency) moves into the **Redis server's**
# memory -- for every slow subscriber at once, with no bound but `maxmemory` or the
# machine ([Redis docs: output buffer limits](https://redis.io/docs/latest/develop/reference/clients/#output-buffer-limits)).
# That is not the lab's *queue* policy below, which buffers in the subscriber's own process.
# Set the consumer's rate above the publish rate and the problem disappears for both.

# %%
KB = 1024
buffer = BACKPRESSURE.params["buffer_limit_bytes"].widget(
    "buffer limit",
    options=[
        ("128 KB", 128 * KB),
        ("256 KB", 256 * KB),
        ("1 MB", 1024 * KB),
        ("32 MB", 32768 * KB),
    ],
)
buffer.options = (*buffer.options, ("off (simulator only)", 0))  # outside the lab's range
buffer.value = BACKPRESSURE.defaults()["buffer_limit_bytes"]  # new options reset it
explore(
    lambda **kw: plots.timeline(backpressure(**kw)),
    rate_per_s=BACKPRESSURE.params["rate_per_s"].widget("publish rate (msg/s)", low=50, high=400),
    service_rate_per_s=BACKPRESSURE.params["service_rate_per_s"].widget(
        "consumer (msg/s)", low=50, high=400, default=100.0
    ),
    buffer_limit_bytes=buffer,
)

# %% [markdown]
# ## Exercise: predict, then run
# Before the next cells print the simulator's numbers: a producer publishes faster than the
# Kafka consumer processes. How large does the group's lag get? Predict it with pen and paper
# (your rates are in the question below); the check runs the simulator with them.

# %%
ex = late.backpressure_lag(backpressure)
display(ex)

# %%
answer = ...  # peak lag in messages
ex.check(answer)

# %% [markdown]
# Stuck? Run `ex.reveal()` in a new cell.

# %% [markdown]
# With the default parameters (seed 0) the checker's counts are:

# %% tags=["nbval-check-output"]
twin = backpressure()
print(twin.report.table())
print("buffer disconnects:", int(twin.metrics["buffer_disconnects:subscriber:0"]))
print("peak Kafka lag:", int(twin.metrics["peak_lag:group:0"]), "messages")

# %% [markdown]
# With the limit off, the server holds the whole backlog for this one subscriber:

# %%
off = backpressure(buffer_limit_bytes=0)
print(f"largest output buffer: {off.metrics['max_buffer_bytes:subscriber:0'] / 1024:.0f} KB")

# %% [markdown]
# The subscriber is disconnected again and again (each reconnect finds the buffer refilling)
# and loses a large share of the burst; the Kafka group processes every message -- later (the
# p95 column) -- with a lag peak near (λ − μ)·T = (200 − 100) msg/s × 2 s.

# %%
plots.lag(twin)

# %% [markdown]
# ### With Redis's default limits
# The limits above are lowered for a quick demo. The bundled scenario `slow_subscriber` keeps
# the defaults (32 MB hard, 8 MB for 60 s): 1000 messages/s of 4 KB, and for two minutes
# `subscriber:0` and the Kafka consumer become 20 times slower; `subscriber:1` stays fast.

# %% tags=["nbval-check-output"]
default = run(load("slow_subscriber"), seed=0)
side_by_side(
    default,
    columns=("acknowledged", "lost", "p50 ms", "p99 ms"),
    metrics={
        "buffer disconnects of subscriber:0": "buffer_disconnects:subscriber:0",
        "largest output buffer (bytes)": "max_buffer_bytes:subscriber:0",
        "peak Kafka lag (messages)": "peak_lag:group:0",
    },
)

# %% [markdown]
# Bigger limits only delay the disconnect: the slow subscriber's buffer still reaches the
# 32 MB hard limit, again and again, and it loses most of what was published in those two
# minutes; its fast neighbour on the same channel loses nothing. The Kafka consumer loses
# nothing either and pays in latency instead -- its p50 is in tens of seconds.

# %% [markdown]
# ## The real brokers
# `run_backpressure` runs the same experiment on Redis and Kafka (it lowers the buffer limit
# with `CONFIG SET` and restores it afterwards). Besides the slow subscriber it runs three
# subscribers that read the socket at once into a *local* buffer with a policy:
#
# | policy | what it does with a backlog | cost |
# |---|---|---|
# | **queue** | keeps everything | memory and latency grow without bound |
# | **shed** | keeps at most `shed_limit` messages, drops the rest | loss, bounded latency |
# | **degrade** | keeps the newest message per key (conflation) | stale updates skipped |
#
# It takes about 10 s.

# %%
lab = run_backpressure(
    rate_per_s=200,
    window_s=2,
    message_bytes=32768,
    service_rate_per_s=100,
    buffer_limit_bytes=262144,
    num_keys=20,
    seed=0,
)
print(lab.report.table())
print("disconnects of the slow subscriber:", int(lab.metrics["disconnects:subscriber:slow"]))

# %% [markdown]
# Exact counts vary from run to run (threads and sockets); what does not vary is checked:

# %% tags=["nbval-check-output"]
r, m = lab.report, lab.metrics
print(
    "Redis closed the slow subscriber's connection:",
    m["server_dropped_client:subscriber:slow"] == 1,
)
print("slow subscriber lost messages:", r["subscriber:slow"].lost > 0)
print("queue policy lost nothing:", r["subscriber:queue"].lost == 0)
print("shed policy dropped some:", r["subscriber:shed"].lost > 0)
print(
    "degrade ends with the latest state of every key:",
    m["latest_state_correct:subscriber:degrade"] == 1,
)
print("Kafka lost nothing:", r["group:slow"].lost == 0)

# %% [markdown]
# ## Side by side
# The simulator's subscriber loses more than the real one: a real client also has kernel
# socket buffers (the server's send buffer, the client's receive buffer; their sizes on this
# machine are printed below -- Linux grows them up to the `max`) that absorb part of the
# backlog before the server's output buffer starts to grow; the simulator models the
# server's buffer only. The direction is the same: the Pub/Sub subscriber loses, the Kafka
# group lags and loses nothing.

# %%
import socket
from pathlib import Path

with socket.socket() as sock:
    rcv = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    snd = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
print(f"a new TCP socket: receive buffer {rcv / 1024:.0f} KB, send buffer {snd / 1024:.0f} KB")
for name in ("tcp_rmem", "tcp_wmem"):
    limits = Path("/proc/sys/net/ipv4", name)
    if limits.exists():  # Linux: min, default, max (bytes)
        print(f"{name} max: {int(limits.read_text().split()[2]) / 1024:.0f} KB")

# %%
side_by_side(
    twin,
    lab,
    readers=[["subscriber:0", "group:0"], ["subscriber:slow", "group:slow"]],
    columns=("acknowledged", "processed", "lost", "p95 ms"),
    metrics={"peak lag (messages)": ["peak_lag:group:0", "peak_lag:group:slow"]},
    theory={"peak lag (messages)": (200 - 100) * 2},
)

# %% [markdown]
# ## Summary
# - A slow Pub/Sub subscriber fills its server-side output buffer and is **disconnected**;
#   what was in the buffer (and what was published while it reconnected) is lost.
# - A slow Kafka consumer **lags** instead: (λ − μ)·T messages, drained at μ afterwards.
# - Choose a policy for the backlog: queue (memory, latency), shed (loss), degrade
#   (latest state only). Next: [8 · Poison messages](08_poison_messages.ipynb).

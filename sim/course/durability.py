"""Durability under broker failure: which acknowledged writes survive a leader failover.

A producer sends numbered values at a fixed rate to one partition replicated on three
brokers. A fault schedule (data: :class:`Fault` rows) kills the partition leader, freezes its
followers, and finally restarts everything; a last read of the whole partition (the *drain*)
shows what the log kept. The checker then counts acknowledged, lost, duplicated, reordered
and unknown writes.

This module holds what the real lab (:mod:`labs.durability`) and its simulator twin share:
the schedules of the lesson (:class:`~sim.core.faults.Fault` rows of the cluster kinds),
the producer settings compared, the twin itself (:func:`simulate_durability`) and the
timeline plot. The twin is deliberately small;
it follows one partition through these rules:

- A follower replicates what the leader appended with no delay, except while frozen.
- A frozen follower stays in the ISR until the leader drops it (``replica.lag.time.max.ms``)
  or the controller fences it for missed heartbeats (``broker.session.timeout.ms``),
  whichever comes first.
- ``acks=1``: the leader acknowledges as soon as it appended. ``acks='all'``: only once
  every ISR member has the write, and only while the ISR has ``min.insync.replicas``
  members; otherwise the write waits (and is retried) or is rejected.
- When the leader dies, the controller notices after ``broker.session.timeout.ms`` and elects
  a follower that is still in the ISR and not fenced (clean election only). If that follower
  was frozen while the leader acknowledged alone, the writes it never fetched are gone: the
  old leader truncates them when it comes back.
- A follower fenced while frozen left the ISR, but Kafka 4.1 keeps it as an *eligible leader
  replica* (ELR, KIP-966, on by default in new 4.1 clusters): it has everything up to the
  high watermark, so once it is back the controller elects it -- and the writes the leader
  acknowledged alone above that mark are gone too. (Measured on the lab's cluster: followers
  frozen 5 s, leader killed 2 s into it, a follower took over right after its thaw.) Without
  ELR (``eligible_leader_replicas=False``, older Kafka) no follower is eligible and the
  partition stays offline until the old leader is back, with every write.
- A send that waits longer than the producer's ``delivery_timeout_ms`` has an unknown
  outcome.

Not modelled: replication delay of a healthy follower (a few milliseconds of ``acks=1``
writes at risk on every leader kill), and retries whose first attempt was written but whose
response was lost (duplicates and reordering without idempotence).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from sim.analysis.result import Result, Series
from sim.analysis.style import legend_outside
from sim.core.faults import CLUSTER_FAULTS, Fault
from sim.core.history import FAILED, OK, UNKNOWN, History, ReaderHistory
from sim.models.cluster import (
    BROKER_HEARTBEAT_INTERVAL_MS,
    BROKER_SESSION_TIMEOUT_MS,
    REPLICA_LAG_TIME_MAX_MS,
    REPLICATION_FACTOR,
)

#: Keys of the producer's messages: integers 0 .. NUM_KEYS-1, all on the one partition.
NUM_KEYS = 8


#: The leader dies and stays down; the followers, fully caught up, take over.
LEADER_KILL = (
    Fault("kill-leader", "partition:0", 3.0),
    Fault("restart-all", "cluster", 9.0),
)
#: The followers stall for 1.5 s (a long GC pause); the leader goes on acknowledging alone;
#: 1 s into the stall the leader dies. The stall is shorter than the controller's
#: broker.session.timeout.ms (3 s), so the followers are never fenced and stay in the ISR:
#: one of them becomes leader without the writes of that second.
FROZEN_FOLLOWERS = (
    Fault("freeze-followers", "partition:0", 3.0, 1.5),
    Fault("kill-leader", "partition:0", 4.0),
    Fault("restart-all", "cluster", 9.0),
)
#: Shortened for a notebook: 5 s of sends instead of 10, and the leader dies 0.8 s into the
#: stall (so the writes it acknowledged alone, rate x 0.8 s, are not the rate itself).
FROZEN_FOLLOWERS_SHORT = (
    Fault("freeze-followers", "partition:0", 1.0, 1.5),
    Fault("kill-leader", "partition:0", 1.8),
    Fault("restart-all", "cluster", 5.0),
)
SCHEDULES = {
    "leader-kill": LEADER_KILL,
    "frozen-followers": FROZEN_FOLLOWERS,
    "frozen-followers-short": FROZEN_FOLLOWERS_SHORT,
}

#: The cluster settings the twin assumes (:mod:`sim.models.cluster`), in seconds.
BROKER_SESSION_TIMEOUT_S = BROKER_SESSION_TIMEOUT_MS / 1000
REPLICA_LAG_TIME_MAX_S = REPLICA_LAG_TIME_MAX_MS / 1000
#: Producer timeouts (both halves): one request, one send in total, a blocked send().
REQUEST_TIMEOUT_MS = 3000
DELIVERY_TIMEOUT_MS = 10_000
MAX_BLOCK_MS = 3000
#: Seconds a restarted broker takes to serve again (the twin's guess; measured 4-8 s here).
RESTART_S = 6.0
#: Seconds a thawed, fenced broker takes to be unfenced again (its next heartbeat).
REJOIN_S = BROKER_HEARTBEAT_INTERVAL_MS / 1000


def schedule_of(schedule: str | Sequence[Fault]) -> tuple[Fault, ...]:
    """A schedule by name (see :data:`SCHEDULES`) or as given, validated and sorted."""
    if isinstance(schedule, str):
        if schedule not in SCHEDULES:
            raise ValueError(f'"schedule" must be one of {list(SCHEDULES)}, got {schedule!r}.')
        schedule = SCHEDULES[schedule]
    faults = tuple(sorted(schedule, key=lambda f: f.start_s))
    if not all(isinstance(f, Fault) for f in faults):
        raise ValueError('"schedule" must be a sequence of Fault rows.')
    for f in faults:
        if f.kind not in CLUSTER_FAULTS:
            raise ValueError(
                f'"schedule" takes the cluster faults {list(CLUSTER_FAULTS)}, got {f.kind!r}.'
            )
        if f.kind != "restart-all" and f.target != "partition:0":
            raise ValueError(
                f"\"target\" of a {f.kind} must be 'partition:0' (the one partition), "
                f"got {f.target!r}."
            )
    return faults


def producer_settings(acks: int | str, enable_idempotence: bool | None = None) -> dict:
    """The producer settings compared: ``acks=1`` without idempotence, ``acks='all'`` with.

    kafka-python 3 defaults to ``acks='all'`` and idempotence; with ``acks=1`` idempotence
    must be off, and is set so explicitly.
    """
    acks = 1 if acks in (1, "1") else ("all" if acks in ("all", -1, "-1") else acks)
    if acks not in (1, "all"):
        raise ValueError(f"\"acks\" must be 1 or 'all', got {acks!r}.")
    if enable_idempotence is None:
        enable_idempotence = acks == "all"
    if enable_idempotence and acks != "all":
        raise ValueError("\"enable_idempotence\" needs acks='all'.")
    return {"acks": acks, "enable_idempotence": bool(enable_idempotence)}


def settings_of(
    acks: int | str,
    enable_idempotence: bool,
    min_insync_replicas: int,
    *,
    replica_lag_time_max_ms: int = int(REPLICA_LAG_TIME_MAX_S * 1000),
    broker_session_timeout_ms: int = int(BROKER_SESSION_TIMEOUT_S * 1000),
    eligible_leader_replicas: bool = True,
) -> dict:
    """The settings that decide the outcome, as printed with every result."""
    return {
        "acks": acks,
        "enable_idempotence": enable_idempotence,
        "min_insync_replicas": min_insync_replicas,
        "replication_factor": REPLICATION_FACTOR,
        "unclean_leader_election": False,
        "eligible_leader_replicas": eligible_leader_replicas,
        "replica_lag_time_max_ms": replica_lag_time_max_ms,
        "broker_session_timeout_ms": broker_session_timeout_ms,
        "delivery_timeout_ms": DELIVERY_TIMEOUT_MS,
    }


def key_sequence(n: int, seed: int) -> np.ndarray:
    """The message keys (0 .. NUM_KEYS-1) of a run: the same for the lab and its twin."""
    return np.random.default_rng(seed).integers(0, NUM_KEYS, size=n)


#: The workload's ranges (msg/s and s), for the lab's declaration and the twin alike.
RATE_RANGE_PER_S = (1.0, 2000.0)
DURATION_RANGE_S = (1.0, 120.0)


def check_run(rate_per_s: float, duration_s: float) -> int:
    """Validate the workload; return the number of messages."""
    for name, value, (low, high), unit in (
        ("rate_per_s", rate_per_s, RATE_RANGE_PER_S, "msg/s"),
        ("duration_s", duration_s, DURATION_RANGE_S, "s"),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise ValueError(f'"{name}" must be in [{low:g}, {high:g}] {unit}, got {value!r}.')
    return int(round(rate_per_s * duration_s))


# --------------------------------------------------------------------------- the twin


def _windows(faults: tuple[Fault, ...]) -> tuple[list, list, float | None]:
    """(leader-down windows, follower-frozen windows, restart-all time) of a schedule."""
    restart = next((f.start_s for f in faults if f.kind == "restart-all"), None)
    down, frozen = [], []
    for f in faults:
        if f.kind == "restart-all":
            continue
        end = f.end_s if f.end_s is not None else (restart if restart is not None else np.inf)
        (down if f.kind == "kill-leader" else frozen).append((f.start_s, end))
    return down, frozen, restart


def simulate_durability(
    *,
    acks: int | str = "all",
    schedule: str | Sequence[Fault] = "frozen-followers",
    rate_per_s: float = 100.0,
    duration_s: float = 10.0,
    seed: int = 0,
    enable_idempotence: bool | None = None,
    min_insync_replicas: int = 2,
    eligible_leader_replicas: bool = True,
) -> Result:
    """The twin of :func:`labs.durability.run_durability`: same parameters, same Result.

    ``eligible_leader_replicas`` (twin only): whether a fenced follower may be elected once
    back (Kafka 4.1's default, as on the lab's cluster) -- see the module's rules."""
    n = check_run(rate_per_s, duration_s)
    faults = schedule_of(schedule)
    prod = producer_settings(acks, enable_idempotence)
    if not 1 <= min_insync_replicas <= REPLICATION_FACTOR:
        raise ValueError(f'"min_insync_replicas" must be in 1..3, got {min_insync_replicas}.')
    t = np.arange(n) / rate_per_s
    keys = key_sequence(n, seed)
    ack_t = t.copy()  # when each send is acknowledged
    lost = np.zeros(n, bool)
    # A frozen follower leaves the ISR when the controller fences it or the leader drops it.
    isr_drop_s = min(BROKER_SESSION_TIMEOUT_S, REPLICA_LAG_TIME_MAX_S)
    down, frozen, _ = _windows(faults)
    log = []

    for fs, fe in frozen:
        log.append((fs, "freeze followers"))
        if fe < np.inf:
            log.append((fe, "thaw followers"))
        out_of_isr = fe - fs > isr_drop_s
        if out_of_isr:
            log.append((fs + isr_drop_s, "followers out of the ISR"))
        if prod["acks"] == "all":
            during = (t >= fs) & (t < fe)
            if out_of_isr and min_insync_replicas <= 1:
                release = np.maximum(t, fs + isr_drop_s)  # the leader alone is enough
            else:  # the write waits for the followers, or is refused until they are back
                release = np.full(n, fe + (1.0 if out_of_isr else 0.0))
            ack_t[during] = np.maximum(ack_t[during], release[during])

    for ks, ke in down:
        log.append((ks, "kill leader"))
        stalled = [(fs, fe) for fs, fe in frozen if fs <= ks < fe]
        fenced = any(fe - fs > BROKER_SESSION_TIMEOUT_S for fs, fe in stalled)
        if fenced and not eligible_leader_replicas:
            # No clean successor: the partition is offline until the old leader is back --
            # with every write it acknowledged.
            elected = ke + RESTART_S
        else:
            # A follower in the ISR (or, fenced, an eligible leader replica once thawed).
            back = [fe + (REJOIN_S if fenced else 0.0) for _, fe in stalled]
            elected = max([ks + BROKER_SESSION_TIMEOUT_S, *back])
            if prod["acks"] == 1:  # the successor never fetched what the leader took alone
                for fs, _ in stalled:
                    lost |= (t >= fs) & (t < ks)
        log.append((elected, "new leader elected"))
        if ke < np.inf:
            log.append((ke, "restart old leader"))
        waiting = (ack_t >= ks) & (ack_t < elected)
        ack_t[waiting] = elected  # buffered and retried until a leader answers

    outcome = np.where(ack_t - t > DELIVERY_TIMEOUT_MS / 1000, UNKNOWN, OK).astype(np.int8)
    lost &= outcome == OK
    written = (outcome == OK) & ~lost
    ids = np.nonzero(written)[0]
    end = float(max(duration_s, ack_t[outcome == OK].max(initial=0.0))) + 1.0
    drain = ReaderHistory("drain", ids, np.full(ids.size, end))
    history = History(
        keys=keys,
        publish_time=t,
        outcome=outcome,
        readers=(drain,),
        partition=np.zeros(n, np.int32),
        end_time=end,
    )
    log.sort()
    return Result.from_history(
        f"durability acks={prod['acks']} {_schedule_name(faults)}",
        "simulator",
        history,
        seed=seed,
        params=_params(rate_per_s, duration_s, faults, log),
        settings=settings_of(
            prod["acks"],
            prod["enable_idempotence"],
            min_insync_replicas,
            eligible_leader_replicas=eligible_leader_replicas,
        ),
        series={"ack_delay": ack_delay(t, np.where(outcome == OK, ack_t, np.nan))},
        metrics=_metrics(history, ack_t, log),
    )


def ack_delay(send_t: np.ndarray, ack_t: np.ndarray) -> Series:
    """Seconds from each send to its acknowledgement (NaN: never acknowledged)."""
    return Series("ack_delay", send_t, ack_t - send_t, unit="s")


def _schedule_name(faults: tuple[Fault, ...]) -> str:
    for name, s in SCHEDULES.items():
        if tuple(s) == faults:
            return name
    return "custom schedule"


def _params(rate_per_s, duration_s, faults, log) -> dict:
    return {
        "rate_per_s": rate_per_s,
        "duration_s": duration_s,
        "schedule": [asdict(f) for f in faults],
        "fault_log": [(round(float(t), 3), what) for t, what in log],
    }


def _metrics(history: History, ack_t: np.ndarray, log) -> dict:
    sent = history.messages
    metrics = {
        "sent": sent,
        "failed": int((history.outcome == FAILED).sum()),
        "ack_time_max_s": float(np.max(ack_t - history.publish_time, initial=0.0)),
    }
    for i, (t, what) in enumerate(log, 1):
        metrics[f"fault {i}: {what} at (s)"] = round(float(t), 3)
    return metrics


# --------------------------------------------------------------------------- the plot


def fault_time(result: Result, action: str) -> float:
    """Run time (s) of the first fault-log entry that starts with ``action`` ("freeze",
    "kill", "thaw", "restart", ...)."""
    for t, what in result.params.get("fault_log", ()):
        if what.startswith(action):
            return float(t)
    raise KeyError(f"no {action!r} in the fault log: {list(result.params.get('fault_log', ()))}")


def lost_mask(result: Result, reader: str = "drain") -> np.ndarray:
    """Per message: acknowledged but absent from the final drain."""
    h = result.history
    seen = np.zeros(h.messages, bool)
    seen[h.reader(reader).ids] = True
    return (h.outcome == OK) & ~seen


def fault_bands(result: Result) -> list[tuple[str, float, float]]:
    """(label, start, end) of the shaded bands, from the fault log: followers frozen (freeze
    to thaw) and leader down (kill to restart), or to the end of the run."""
    log = list(result.params.get("fault_log", ()))
    end_of_run = float(result.history.end_time)
    ends = {"freeze": "thaw", "kill": "restart"}
    labels = {"freeze": "followers frozen", "kill": "leader killed"}
    bands = []
    for i, (t, what) in enumerate(log):
        word = what.split()[0]
        if word not in ends:
            continue
        nodes = set(re.findall(r"broker-\d+", what))
        stop = next(
            (
                t2
                for t2, w2 in log[i + 1 :]
                if w2.split()[0] == ends[word]
                and (not nodes or nodes & set(re.findall(r"broker-\d+", w2)))
            ),
            end_of_run,
        )
        bands.append((labels[word], float(t), float(stop)))
    return bands


def plot_timeline(result: Result):
    """A timeline of one run, faults as shaded bands. Top: every send by its send time and
    number -- acknowledged ones in green, failed or unknown in grey, acknowledged but lost
    ones marked with a red x. Bottom: how long each acknowledgement took."""
    import matplotlib.pyplot as plt

    h = result.history
    ids = np.arange(h.messages)
    lost = lost_mask(result)
    ok = (h.outcome == OK) & ~lost
    other = h.outcome != OK
    delay = result.series["ack_delay"].value if "ack_delay" in result.series else None
    fig, axes = plt.subplots(
        2 if delay is not None else 1, 1, figsize=(9, 6), sharex=True, squeeze=False,
        gridspec_kw={"height_ratios": [2, 1] if delay is not None else [1]},
    )  # fmt: skip
    top = axes[0, 0]
    colours = {"followers frozen": "tab:blue", "leader killed": "tab:red"}
    shown = set()
    for label, start, end in fault_bands(result):
        for ax in axes[:, 0]:
            ax.axvspan(start, end, color=colours[label], alpha=0.15,
                       label=None if label in shown or ax is not top else label)  # fmt: skip
        shown.add(label)
    top.scatter(h.publish_time[ok], ids[ok], s=3, c="tab:green", label="acknowledged, kept")
    if other.any():
        top.scatter(h.publish_time[other], ids[other], s=3, c="0.6",
                    label="failed or unknown (timeout)")  # fmt: skip
    if lost.any():
        top.scatter(h.publish_time[lost], ids[lost], s=30, marker="x", c="tab:red",
                    label=f"acknowledged, LOST ({int(lost.sum())})")  # fmt: skip
    row = result.report.rows[0]
    top.set_title(
        f"{result.name} ({result.source}): {row.lost} of {row.acknowledged} acknowledged "
        "writes lost"
    )
    top.set_ylabel("message id (send order)")
    legend_outside(top, fontsize="small")
    if delay is not None:
        bottom = axes[1, 0]
        bottom.scatter(h.publish_time[ok], delay[ok], s=3, c="tab:green")
        if lost.any():
            bottom.scatter(h.publish_time[lost], delay[lost], s=30, marker="x", c="tab:red")
        bottom.set_ylabel("time to acknowledge (s)")
    axes[-1, 0].set_xlabel("time since the first send (s)")
    fig.tight_layout()
    return fig

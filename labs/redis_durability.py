"""Redis persistence and failover, on redis-server processes of the lab's own.

The course's Redis runs with ``--save "" --appendonly no`` and is shared, so this lab starts
private servers (:mod:`labs.stack.private_redis`: loopback, a temporary data folder, all
killed when the run ends, also on failure).

**Restart.** For each policy -- ``appendonly no``, ``appendonly yes`` + ``appendfsync
everysec``, ``appendonly yes`` + ``appendfsync always`` -- a fresh server takes ``records``
``XADD`` s one at a time (each acknowledged by its reply), is SIGKILLed right after the last
reply, and is started again on the same folder; the records the stream still holds are
read back. A SIGKILL is a *process* crash: the OS and its page cache survive, so whatever
Redis had ``write(2)``-n to the AOF is kept even if not yet fsynced. A power loss would keep
only what was fsynced (the Redis docs, "Redis persistence": everysec loses about a second).

**Failover.** A primary (no persistence) and a replica (``--replicaof``) connected through
:class:`labs.lag_link.LagLink`, a link that delays each direction by ``lag_ms`` -- a replica
a network away, as in production; on one machine a replica is never behind, so without it
there would be nothing to see. A client writes at a constant rate (every due write sent each
``TICK_MS`` in one pipeline), for ``kill_after_s`` seconds; then the primary's machine fails:
the link is cut and the primary SIGKILLed together, and the replica is promoted (``REPLICAOF
NO ONE``). Acknowledged writes missing on the new primary are lost: replication is
asynchronous. The same run with ``WAIT 1 wait_timeout_ms`` after each pipeline counts a
write as acknowledged only when ``WAIT`` returned >= 1: none of those is lost, and each
write waits a round trip on the link more. Both at ``rate_per_s`` and ``high_rate_per_s``.

The result's history has one row per write of every run and one reader per run
(``restart:<policy>``, ``failover:<low|high>``, ``wait:<low|high>``) whose expected writes
are the run's acknowledged ones: the checker's ``lost`` is what the crash cost.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import redis

import sim.progress as progress
from labs.clients import WaitTimeout
from labs.experiments.redis_durability import RATES, REDIS_DURABILITY
from labs.lag_link import LagLink
from labs.naming import new_run_id
from labs.stack.config import redis_prefix
from labs.stack.private_redis import PrivateServers, Server, private_servers
from sim.analysis.result import Result
from sim.core.history import OK, UNKNOWN, History, ReaderHistory

SOURCE = "redis (private servers)"
#: The persistence policies: label -> (appendonly, appendfsync).
POLICIES = {
    "no-aof": (False, "everysec"),
    "everysec": (True, "everysec"),
    "always": (True, "always"),
}
#: Milliseconds between two pipelines of the failover writer.
TICK_MS = 5.0
#: Seconds the replica may take to finish its first sync through the link, plus
#: :data:`SYNC_ROUND_TRIPS` round trips on it (the handshake, PSYNC and the snapshot).
SYNC_TIMEOUT_S = 10.0
SYNC_ROUND_TRIPS = 30
#: Seconds the promoted replica may take to accept writes.
PROMOTE_TIMEOUT_S = 5.0
#: Seconds the writer waits for the crash timer after its loop ended.
EXIT_WAIT_S = 10.0


@dataclass
class _Writes:
    """Every write of the run: its run, its intended and acknowledged times, its outcome."""

    run: list[str] = field(default_factory=list)
    due: list[float] = field(default_factory=list)
    outcome: list[int] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    primary_acked: list[bool] = field(default_factory=list)  # XADD replied
    #: Per failover run, when the primary was killed (seconds after the run's first write).
    kill_at: dict[str, float] = field(default_factory=dict)
    #: Per run, the write ids the server held after the crash (restart or promotion).
    kept: dict[str, set[int]] = field(default_factory=dict)

    def add(self, run: str, due: float) -> int:
        """A new write, not acknowledged (yet); its id."""
        self.run.append(run)
        self.due.append(due)
        self.outcome.append(UNKNOWN)
        self.latency_ms.append(float("nan"))
        self.primary_acked.append(False)
        return len(self.run) - 1

    def ids(self, run: str, outcome: int | None = OK) -> np.ndarray:
        r, o = np.array(self.run), np.array(self.outcome)
        mask = r == run if outcome is None else (r == run) & (o == outcome)
        return np.flatnonzero(mask)


def _stored_ids(client: redis.Redis, stream: str) -> set[int]:
    """The write ids the stream holds (read in pages)."""
    ids, start = set(), "-"
    while True:
        page = client.xrange(stream, min=start, max="+", count=5000)
        if not page:
            return ids
        ids.update(int(f[b"id"]) for _, f in page)
        last = page[-1][0].decode()
        ms, seq = last.split("-")
        start = f"{ms}-{int(seq) + 1}"


def _restart_run(
    servers: PrivateServers, writes: _Writes, policy: str, stream: str, records: int, t0: float
) -> dict[str, float]:
    appendonly, fsync = POLICIES[policy]
    server = servers.start(name=f"restart-{policy}", appendonly=appendonly, appendfsync=fsync)
    client = server.client()
    run = f"restart:{policy}"
    try:
        with progress.task(
            f"{records} XADDs, appendonly {policy}", total=records, unit="msg"
        ) as bar:
            for _ in range(records):
                due = time.monotonic() - t0
                i = writes.add(run, due)
                client.xadd(stream, {"id": i})
                writes.outcome[i] = OK
                writes.primary_acked[i] = True
                writes.latency_ms[i] = (time.monotonic() - t0 - due) * 1000.0
                bar.advance()
    finally:
        client.close()
    server.kill()  # right after the last reply: a crash of the process
    server = servers.restart(server)
    client = server.client()
    try:
        kept = _stored_ids(client, stream)
    finally:
        client.close()
    server.kill()
    writes.kept[run] = kept
    ids = writes.ids(run)
    return {
        f"acked:{policy}": len(ids),
        f"lost_after_restart:{policy}": int(sum(i not in kept for i in ids)),
        f"write_p50_ms:{policy}": float(np.median(np.array(writes.latency_ms)[ids])),
    }


def _replica_synced(replica: redis.Redis) -> bool:
    info = replica.info("replication")
    return info.get("master_link_status") == "up" and not info.get("master_sync_in_progress")


def _failover_run(
    servers: PrivateServers,
    writes: _Writes,
    *,
    label: str,
    wait: bool,
    rate_per_s: float,
    lag_ms: float,
    kill_after_s: float,
    wait_timeout_ms: int,
    stream: str,
    t0: float,
) -> dict[str, float]:
    kind = "wait" if wait else "failover"
    run = f"{kind}:{label}"
    primary = servers.start(name=f"{kind}-{label}-primary")
    link = LagLink(primary.port, lag_ms)
    try:
        replica = servers.start(name=f"{kind}-{label}-replica", replicaof=link.port)
        with contextlib.closing(replica.client()) as rc:
            _wait_for(
                lambda: _replica_synced(rc),
                SYNC_TIMEOUT_S + SYNC_ROUND_TRIPS * 2 * lag_ms / 1000.0,
                f"the replica {replica.name} to sync through the link (lag {lag_ms:g} ms); a "
                "loaded machine? Run the lab again, or with a smaller lag_ms",
            )
        timeouts = _write_until_kill(
            primary, link, writes, run, rate_per_s, kill_after_s, wait, wait_timeout_ms, stream, t0
        )
        lags = link.lags_ms()
    finally:
        link.cut()
        primary.kill()
    with contextlib.closing(replica.client()) as client:
        client.replicaof("NO", "ONE")
        _wait_for(
            lambda: client.info("replication").get("role") == "master",
            PROMOTE_TIMEOUT_S,
            f"the replica {replica.name} to become a primary after REPLICAOF NO ONE",
        )
        kept = _stored_ids(client, stream)
    replica.kill()
    writes.kept[run] = kept
    return _failover_metrics(writes, run, label, wait, kept, lags, timeouts)


def _failover_metrics(
    writes: _Writes,
    run: str,
    label: str,
    wait: bool,
    kept: set[int],
    lags: list[float],
    timeouts: int,
) -> dict[str, float]:
    ids = writes.ids(run)
    lat = np.array(writes.latency_ms)[ids]
    sent = writes.ids(run, outcome=None)
    span = writes.due[sent[-1]] - writes.due[sent[0]] if len(sent) > 1 else 0.0
    name = "wait" if wait else "async"
    out = {
        f"acked_{name}:{label}": len(ids),
        f"{'lost_with_wait' if wait else 'lost_on_failover'}:{label}": int(
            sum(i not in kept for i in ids)
        ),
        f"{name}_p50_ms:{label}": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
        f"{name}_p99_ms:{label}": float(np.percentile(lat, 99)) if len(lat) else float("nan"),
        f"achieved_rate_{name}:{label}": (len(sent) - 1) / span if span > 0 else float("nan"),
        f"link_lag_p50_ms:{name}:{label}": float(np.median(lags)) if lags else float("nan"),
        f"link_lag_p99_ms:{name}:{label}": (
            float(np.percentile(lags, 99)) if lags else float("nan")
        ),
        f"kill_after_start_s:{name}:{label}": writes.kill_at.get(run, float("nan")),
    }
    if wait:
        # Acknowledged by the primary's XADD reply, never confirmed by WAIT: the client
        # could not count them as safe -- and some of them are indeed gone.
        unconfirmed = [i for i in sent if writes.primary_acked[i] and writes.outcome[i] != OK]
        out[f"unconfirmed:{label}"] = len(unconfirmed)
        out[f"lost_unconfirmed:{label}"] = int(sum(i not in kept for i in unconfirmed))
        out[f"wait_timeouts:{label}"] = timeouts
    return out


def _write_until_kill(
    primary: Server,
    link: LagLink,
    writes: _Writes,
    run: str,
    rate_per_s: float,
    kill_after_s: float,
    wait: bool,
    wait_timeout_ms: int,
    stream: str,
    t0: float,
) -> int:
    """Write on the schedule (the due writes in one pipeline, then ``WAIT`` if asked) until
    a timer cuts the link and SIGKILLs the primary ``kill_after_s`` in -- mid-stream: the
    batch under way then gets no reply. Return how many WAITs timed out."""
    client = primary.client(socket_timeout=5.0 + wait_timeout_ms / 1000.0)
    killed = threading.Event()
    start = time.monotonic()

    def crash() -> None:
        link.cut()
        primary.kill()
        writes.kill_at[run] = time.monotonic() - start
        killed.set()

    timer = threading.Timer(kill_after_s, crash)
    timer.start()
    timeouts, n_sent = 0, 0
    try:
        total = int(kill_after_s * rate_per_s) + 1
        with progress.task(f"writing at {rate_per_s:g}/s ({run})", total=total, unit="msg") as bar:
            while not killed.is_set():
                due_n = int((time.monotonic() - start) * rate_per_s) + 1
                batch = [(writes.add(run, start - t0 + k / rate_per_s), k / rate_per_s)
                         for k in range(n_sent, due_n)]  # fmt: skip
                n_sent = max(n_sent, due_n)
                bar.set(n_sent)
                if batch:
                    pipe = client.pipeline(transaction=False)
                    for i, _ in batch:
                        pipe.xadd(stream, {"id": i})
                    try:
                        pipe.execute()
                        for i, _ in batch:
                            writes.primary_acked[i] = True
                        ok = not wait or int(client.wait(1, wait_timeout_ms)) >= 1
                    except (redis.ConnectionError, redis.TimeoutError):
                        break  # the primary died under this batch: its outcome is unknown
                    timeouts += not ok
                    done = time.monotonic() - start
                    for i, due in batch:
                        writes.outcome[i] = OK if ok else UNKNOWN
                        writes.latency_ms[i] = (done - due) * 1000.0
                next_due = n_sent / rate_per_s - (time.monotonic() - start)
                killed.wait(max(next_due, TICK_MS / 1000.0))
    finally:
        client.close()
        if not killed.is_set():  # the writer failed first: the caller cleans up
            timer.cancel()
        timer.join()
        killed.wait(EXIT_WAIT_S)
    return timeouts


def _wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
            if condition():
                return
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.02)


@progress.task("redis-durability lab on private redis-servers")
def run_redis_durability(
    *,
    records: int = 1000,
    rate_per_s: float = 200.0,
    high_rate_per_s: float = 1000.0,
    lag_ms: float = 100.0,
    kill_after_s: float = 1.5,
    wait_timeout_ms: int = 1000,
    seed: int = 0,
) -> Result:
    """Run the Redis persistence and failover lab; see the module docstring."""
    REDIS_DURABILITY.check(locals())  # ranges and defaults: labs/experiments/redis_durability.py
    params = dict(
        records=records,
        rate_per_s=rate_per_s,
        high_rate_per_s=high_rate_per_s,
        lag_ms=lag_ms,
        kill_after_s=kill_after_s,
        wait_timeout_ms=wait_timeout_ms,
    )
    run_id = new_run_id()
    stream = f"{redis_prefix()}redis_durability:{run_id}:events"
    writes = _Writes()
    metrics: dict[str, float] = {}
    t0 = time.monotonic()
    with private_servers() as servers:
        for policy in POLICIES:
            metrics |= _restart_run(servers, writes, policy, stream, records, t0)
        for label, param in RATES.items():
            for wait in (False, True):
                metrics |= _failover_run(
                    servers,
                    writes,
                    label=label,
                    wait=wait,
                    rate_per_s=params[param],
                    lag_ms=lag_ms,
                    kill_after_s=kill_after_s,
                    wait_timeout_ms=wait_timeout_ms,
                    stream=stream,
                    t0=t0,
                )
    return Result.from_history(
        "redis_durability",
        SOURCE,
        _history(writes),
        seed=seed,
        params=params,
        settings={
            "run_id": run_id,
            "servers": "redis-server started by the lab, loopback, RDB snapshots off",
            **{f"restart:{p}": _policy_text(p) for p in POLICIES},
            "crash": "SIGKILL right after the last acknowledged XADD, restart on the same dir",
            "failover": (
                f"primary -> replica through a link delaying each way {lag_ms:g} ms; after "
                f"{kill_after_s:g} s the link is cut and the primary SIGKILLed; REPLICAOF NO ONE"
            ),
            "wait": f"WAIT 1 {wait_timeout_ms} after each pipeline (every {TICK_MS:g} ms)",
        },
        metrics=metrics,
    )


def _policy_text(policy: str) -> str:
    appendonly, fsync = POLICIES[policy]
    return f"appendonly {'yes' if appendonly else 'no'}" + (
        f", appendfsync {fsync}" if appendonly else ""
    )


def _history(writes: _Writes) -> History:
    """One row per write; one reader per run: the run's acknowledged writes the server
    still held after the crash, "processed" at their send time. Each reader expects its
    run's acknowledged writes; nothing is retrievable later, so a missing one is lost."""
    n = len(writes.run)
    runs, due = np.array(writes.run), np.array(writes.due)
    acked = np.array(writes.outcome) == OK
    readers = []
    for name, kept in writes.kept.items():
        expected = (runs == name) & acked
        ids = np.array(sorted(i for i in kept if expected[i]), np.int64)
        readers.append(
            ReaderHistory(name, ids, due[ids], expected=expected, available=np.zeros(n, bool))
        )
    return History(
        keys=np.zeros(n, np.int64),
        publish_time=due,
        outcome=np.array(writes.outcome, np.int8),
        readers=tuple(readers),
        end_time=float(due.max()) if n else 0.0,
    )

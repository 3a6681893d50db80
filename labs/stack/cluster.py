"""The native cluster: a real multi-node Kafka (KRaft) on 127.0.0.1 for the durability lab.

One node is the KRaft controller only (``process.roles=controller``, node id 0); three are
brokers only (``process.roles=broker``, node ids 1, 2, 3). Keeping the controller apart means
the lab can kill or freeze any broker -- even two of them -- and the cluster still has its
controller quorum to elect new partition leaders.

Every node is a plain ``java -cp <jars> kafka.Kafka server.properties`` process started from
the same cached Maven jars as the single-node stack (:func:`labs.stack.native.kafka_libs`),
with a folder of its own under ``<stack dir>/cluster/<node>`` (properties, data, log, pid
file). The lab acts on nodes one at a time: :func:`kill` (SIGKILL: the process dies, its
writes stay in the page cache -- a crash, not a power cut),
:func:`freeze` / :func:`thaw` (SIGSTOP / SIGCONT, like a long GC pause or a stalled disk)
and :func:`start` (restart after a kill). Signals only ever go to a pid from this cluster's
pid files whose working folder is that node's folder.

Unclean leader election is off. Kafka 4.1 formats new clusters with Eligible Leader Replicas
(KIP-966, feature ``eligible.leader.replicas.version`` in the bootstrap checkpoint): a
follower fenced while in sync may still be elected, cleanly, once it is back.

Ports: ``COURSE_CLUSTER_PORTS`` = ``<controller>,<broker 1>,<broker 2>,<broker 3>``
(default ``19190,19191,19192,19193``), away from the single-node stack's 19092/19093.
The ids, ports, settings and properties are in :mod:`labs.stack.cluster_config`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import sim.progress as progress
from labs.stack import config, native
from labs.stack.cluster_config import (
    BROKER_HEARTBEAT_INTERVAL_MS,
    BROKER_IDS,
    BROKER_SESSION_TIMEOUT_MS,
    CONTROLLER_ID,
    DEFAULT_PORTS,
    JVM_OPTS,
    MIN_INSYNC_REPLICAS,
    READY_TIMEOUT_S,
    REPLICA_LAG_TIME_MAX_MS,
    REPLICATION_FACTOR,
    new_cluster_id,
    ports,
    server_properties,
)
from labs.stack.prereqs import StackError, require_java
from labs.stack.probe import port_open, wait_for

__all__ = [
    "BROKER_HEARTBEAT_INTERVAL_MS",
    "BROKER_IDS",
    "BROKER_SESSION_TIMEOUT_MS",
    "CONTROLLER_ID",
    "DEFAULT_PORTS",
    "MIN_INSYNC_REPLICAS",
    "REPLICA_LAG_TIME_MAX_MS",
    "REPLICATION_FACTOR",
    "Node",
    "PartitionState",
    "bootstrap_servers",
    "brokers",
    "controller",
    "describe",
    "down",
    "freeze",
    "kill",
    "live_brokers",
    "node",
    "nodes",
    "ports",
    "running",
    "server_properties",
    "start",
    "status",
    "stop",
    "thaw",
    "up",
]


@dataclass(frozen=True)
class Node:
    """One process of the cluster and where its files live."""

    name: str
    node_id: int
    port: int
    role: str  # "controller" or "broker"

    @property
    def home(self) -> Path:
        return config.stack_dir() / "cluster" / self.name

    @property
    def pid_file(self) -> Path:
        return self.home / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.home / f"{self.name}.log"

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def address(self) -> str:
        return f"{config.HOST}:{self.port}"

    def pid(self) -> int | None:
        """The pid of this node's running process, or None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if native._is_ours(pid, self.home) else None

    def state(self) -> str:
        """``running``, ``frozen`` (SIGSTOPped) or ``stopped``."""
        pid = self.pid()
        if pid is None:
            return "stopped"
        return "frozen" if _proc_state(pid) in ("T", "t") else "running"


def controller() -> Node:
    return Node("controller", CONTROLLER_ID, ports()[0], "controller")


def brokers() -> list[Node]:
    p = ports()
    return [Node(f"broker-{i}", i, p[i], "broker") for i in BROKER_IDS]


def nodes() -> list[Node]:
    return [controller(), *brokers()]


def node(name_or_id: str | int) -> Node:
    """A node by name (``broker-2``, ``controller``) or Kafka node id (2)."""
    for n in nodes():
        if name_or_id in (n.name, n.node_id, str(n.node_id)):
            return n
    raise ValueError(
        f'"node" must be one of {[n.name for n in nodes()]} or a node id, got {name_or_id!r}.'
    )


def bootstrap_servers() -> str:
    """The brokers' addresses, for clients of the cluster."""
    return ",".join(b.address for b in brokers())


# --------------------------------------------------------------------------- start / stop


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def _cluster_id_file() -> Path:
    return config.stack_dir() / "cluster" / "cluster.id"


def _cluster_id() -> str:
    """One id for every node (KRaft cluster ids are base64 UUIDs, 22 characters)."""
    path = _cluster_id_file()
    try:
        return path.read_text().strip()
    except OSError:
        pass
    cid = new_cluster_id()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(cid)
    return cid


def preflight() -> None:
    """Check java and every port before starting anything (no half cluster on failure)."""
    require_java(17)
    for n in nodes():
        if n.pid() is None and port_open(config.HOST, n.port):
            raise StackError(
                f"port {n.address} is already in use by another program, so the cluster's "
                f"{n.name} cannot start there. Stop that program (see `ss -ltnp "
                f"'sport = :{n.port}'`), or pick other ports: COURSE_CLUSTER_PORTS="
                "<controller>,<b1>,<b2>,<b3> python -m labs.stack up --cluster"
            )


@progress.task("formatting the nodes' storage")
def _format(java: str, classpath: str, ns: list[Node]) -> None:
    """Format the storage of every node in ``ns`` that has none yet, all at once (each is a
    JVM start: in parallel they take the time of one)."""
    todo = [n for n in ns if not (n.home / "data" / "meta.properties").exists()]
    procs = []
    for n in todo:
        n.home.mkdir(parents=True, exist_ok=True)
        n.properties.write_text(server_properties(n))
        # A static controller.quorum.voters: format with -t only (--standalone is rejected).
        cmd = [
            java, "-Xmx128m", "-XX:TieredStopAtLevel=1", "-cp", classpath,
            "kafka.tools.StorageTool", "format", f"--cluster-id={_cluster_id()}",
            "-c", str(n.properties),
        ]  # fmt: skip
        procs.append(
            (n, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        )
    failed = []
    for n, proc in procs:
        try:
            out, _ = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        if proc.returncode != 0:
            failed.append(f"{n.name}: {out.strip()[-800:]}")
    if failed:
        raise StackError("`kafka-storage format` failed:\n" + "\n".join(failed))


_start_locks: dict[str, threading.Lock] = {}
_start_locks_guard = threading.Lock()


@contextlib.contextmanager
def _one_start(n: Node):
    """One start of node ``n`` at a time, across threads (a lock) and processes (``flock`` on
    a file in its folder). Two JVMs of one node share its data folder: the second cannot lock
    it and exits, but both have written to the KRaft metadata log by then, and the first dies
    of the corruption (``CorruptRecordException``) -- the node is gone."""
    with _start_locks_guard:
        lock = _start_locks.setdefault(n.name, threading.Lock())
    n.home.mkdir(parents=True, exist_ok=True)
    with lock, open(n.home / "start.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _spawn_node(java: str, classpath: str, n: Node) -> int:
    """Start ``n`` unless a process of it runs (checked under :func:`_one_start`); its pid."""
    with _one_start(n):
        pid = n.pid()
        if pid is not None:
            return pid
        n.home.mkdir(parents=True, exist_ok=True)
        n.properties.write_text(server_properties(n))
        _format(java, classpath, [n])
        with open(n.log_file, "a") as log:  # mark where this run's log starts
            log.write(f"\n=== start {time.strftime('%Y-%m-%dT%H:%M:%S')} ===\n")
        _log_offsets[n.name] = n.log_file.stat().st_size
        return native._spawn(
            n,
            [
                java, *JVM_OPTS, f"-Dkafka.logs.dir={n.home}",
                f"-Dlog4j2.configurationFile={native.HERE / 'log4j2.xml'}",
                "-cp", classpath, "kafka.Kafka", str(n.properties),
            ],
        )  # fmt: skip


_log_offsets: dict[str, int] = {}


def _started(n: Node) -> bool:
    """True once this run of ``n`` logged "Kafka Server started"."""
    try:
        with open(n.log_file, "rb") as f:
            f.seek(_log_offsets.get(n.name, 0))
            text = f.read().decode(errors="replace")
    except OSError:
        return False
    marker = text.rfind("=== start ")
    return "Kafka Server started" in (text[marker:] if marker >= 0 else text)


def start(name: str, *, wait: bool = False, timeout_s: float = 60.0) -> int:
    """Start one node (after a kill, or for the first time); return its pid. With ``wait``,
    return once it logged that it started."""
    n = node(name)
    pid = n.pid()
    if pid is not None:
        if n.state() == "frozen":
            thaw(n.name)
        if wait:  # it may still be starting
            _wait_started([n], time.monotonic() + timeout_s)
        return pid
    if not wait_for(lambda: not port_open(config.HOST, n.port, 0.2), time.monotonic() + 10, 0.1):
        raise StackError(f"port {n.address} is in use; {n.name} cannot start there")
    java = require_java(17)
    classpath = str(native.kafka_libs() / "*")
    pid = _spawn_node(java, classpath, n)
    if wait:
        _wait_started([n], time.monotonic() + timeout_s)
    return pid


def _wait_started(ns: list[Node], deadline: float, respawn=None) -> None:
    """Wait until every node in ``ns`` logged that it started. A node whose process exits
    first is started once more with ``respawn(node)`` (if given): on a busy shared machine a
    JVM can die at birth; a second exit is an error, with the end of its log."""
    retried: set[str] = set()

    def check() -> bool:
        for n in ns:
            if n.pid() is None:
                if respawn is None or n.name in retried:
                    raise native._fail(n, "the process exited")
                retried.add(n.name)
                respawn(n)
        late = [n.name for n in ns if not (_started(n) and port_open(config.HOST, n.port, 0.5))]
        shown.waiting_for(f"waiting for {', '.join(late)} to start" if late else None)
        return not late

    with progress.task("the cluster's nodes") as shown:
        if not wait_for(check, deadline, 0.2):
            late = [n for n in ns if not _started(n)]
            raise native._fail((late or ns)[0], "not ready in time")


@progress.task("starting the 3-broker cluster")
def up(timeout_s: float = READY_TIMEOUT_S) -> list[dict]:
    """Start the controller and the three brokers unless they run; wait until all three
    brokers are registered with the controller. Returns :func:`status` rows."""
    deadline = time.monotonic() + timeout_s
    preflight()
    java = require_java(17)
    classpath = str(native.kafka_libs() / "*")
    ctl = controller()
    _format(java, classpath, [n for n in nodes() if n.pid() is None])
    started: list[Node] = []
    try:
        if ctl.pid() is None:
            _spawn_node(java, classpath, ctl)
            started.append(ctl)
        for b in brokers():  # brokers start in parallel; they wait for the controller
            if b.pid() is None:
                _spawn_node(java, classpath, b)
                started.append(b)
            elif b.state() == "frozen":
                thaw(b.name)
        _wait_started(started, deadline, lambda n: _spawn_node(java, classpath, n))
        wait_registered(len(BROKER_IDS), deadline)
    except BaseException:
        for n in started:  # a failed start leaves nothing behind
            _stop(n, 5.0)
        raise
    return status()


def wait_registered(count: int, deadline: float) -> None:
    """Wait until ``count`` brokers are in the cluster metadata (registered, unfenced)."""
    with progress.task(f"waiting for {count} brokers to register with the controller"):
        got = wait_for(lambda: len(live_brokers(2.0)) >= count, deadline, 0.3)
    if not got:
        raise StackError(
            f"only {len(live_brokers(2.0))} of {count} brokers registered in time; read the "
            f"nodes' logs in {config.stack_dir() / 'cluster'}/<node>/<node>.log"
        )


def _stop(n: Node, timeout_s: float) -> bool:
    pid = n.pid()
    if pid is None:
        n.pid_file.unlink(missing_ok=True)
        return False
    _terminate(pid)
    _finish(n, pid, time.monotonic() + timeout_s)
    return True


def _terminate(pid: int) -> None:
    if _proc_state(pid) in ("T", "t"):
        os.kill(pid, signal.SIGCONT)  # a frozen JVM cannot act on SIGTERM
    os.kill(pid, signal.SIGTERM)


def _finish(n: Node, pid: int, deadline: float) -> None:
    """Wait for a SIGTERMed node until ``deadline``, then SIGKILL it; wait until its port is
    free; forget its pid."""
    if not wait_for(lambda: not native._alive(pid), deadline, 0.1) and n.pid() == pid:
        os.kill(pid, signal.SIGKILL)
    _wait_gone(n, pid)
    n.pid_file.unlink(missing_ok=True)


def stop(name: str, timeout_s: float = 15.0) -> bool:
    """Stop one node cleanly (SIGTERM, then SIGKILL after ``timeout_s``). True if it ran."""
    return _stop(node(name), timeout_s)


def down(purge: bool = False, timeout_s: float = 15.0) -> list[str]:
    """Stop every node (brokers first, in parallel, then the controller); with ``purge``
    delete the cluster's folder."""
    stopped = []
    pids = {}
    for b in brokers():
        pid = b.pid()
        if pid is not None:
            _terminate(pid)
            pids[b.name] = pid
    deadline = time.monotonic() + timeout_s
    for b in brokers():
        if b.name in pids:
            _finish(b, pids[b.name], deadline)
            stopped.append(b.name)
    if _stop(controller(), timeout_s):
        stopped.insert(0, "controller")
    if purge:
        shutil.rmtree(config.stack_dir() / "cluster", ignore_errors=True)
    return stopped


# --------------------------------------------------------------------------- faults


def _signal(name: str, sig: signal.Signals) -> int:
    n = node(name)
    pid = n.pid()
    if pid is None:
        raise StackError(f"{n.name} is not running (no process of this cluster to signal)")
    os.kill(pid, sig)
    return pid


def kill(name: str) -> int:
    """SIGKILL a node: no clean shutdown, as in a crash (the page cache survives, unlike a
    power cut). Returns the pid."""
    n = node(name)
    pid = _signal(n.name, signal.SIGKILL)
    _wait_gone(n, pid)
    n.pid_file.unlink(missing_ok=True)
    return pid


def _wait_gone(n: Node, pid: int, timeout_s: float = 10.0) -> None:
    """Wait until ``pid`` exited *and* its port is free: a multi-threaded JVM's main thread
    shows as a zombie while its other threads still exit and hold the sockets."""
    wait_for(
        lambda: not native._alive(pid) and not port_open(config.HOST, n.port, 0.2),
        time.monotonic() + timeout_s,
        0.05,
    )


def freeze(name: str, timeout_s: float = 10.0) -> int:
    """SIGSTOP a node: it keeps its sockets but neither answers nor fetches nor heart-beats.
    Returns once the kernel shows the process stopped (a JVM's threads stop one by one)."""
    return _signal_and_wait(name, signal.SIGSTOP, "frozen", timeout_s)


def thaw(name: str, timeout_s: float = 10.0) -> int:
    """SIGCONT a frozen node; returns once it runs again."""
    return _signal_and_wait(name, signal.SIGCONT, "running", timeout_s)


def _signal_and_wait(name: str, sig: signal.Signals, state: str, timeout_s: float) -> int:
    n = node(name)
    pid = _signal(n.name, sig)
    if wait_for(lambda: n.state() == state, time.monotonic() + timeout_s, 0.02) is not True:
        raise StackError(
            f"{n.name} (pid {pid}) is not {state} {timeout_s:g} s after {sig.name}; see "
            f"`python -m labs.stack status --cluster`, or restart it with `down --cluster`."
        )
    return pid


# --------------------------------------------------------------------------- status


def _admin(timeout_s: float):
    from kafka import KafkaAdminClient

    ms = int(timeout_s * 1000)
    up_brokers = [b.address for b in brokers() if b.state() == "running"]
    return KafkaAdminClient(
        bootstrap_servers=up_brokers or bootstrap_servers(),
        request_timeout_ms=ms,
        bootstrap_timeout_ms=ms,
        connections_max_idle_ms=max(2 * ms, 10_000),
        reconnect_backoff_max_ms=500,
    )


def live_brokers(timeout_s: float = 3.0) -> list[int]:
    """Node ids of the brokers the cluster metadata lists (registered and not fenced)."""
    try:
        admin = _admin(timeout_s)
    except Exception:  # no broker reachable yet
        return []
    try:
        return sorted(b["broker_id"] for b in admin.describe_cluster()["brokers"])
    except Exception:
        return []
    finally:
        admin.close()


@dataclass(frozen=True)
class PartitionState:
    """Who leads a partition and who is in sync (``leader`` -1: no leader)."""

    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    def line(self) -> str:
        return (
            f"{self.topic}[{self.partition}] leader {self.leader} "
            f"replicas {list(self.replicas)} isr {list(self.isr)}"
        )


def describe(topic: str, timeout_s: float = 3.0) -> list[PartitionState]:
    """Leader, replicas and ISR of each partition of ``topic`` (asks a running broker)."""
    from kafka.errors import KafkaError

    try:
        admin = _admin(timeout_s)
        try:
            (desc,) = admin.describe_topics([topic])
        finally:
            admin.close()
    except KafkaError as exc:
        raise StackError(
            f"cannot describe topic {topic!r}: no broker of the cluster answered "
            f"({type(exc).__name__}); is it up? python -m labs.stack up --cluster"
        ) from exc
    if desc.get("error_code", 0):
        from kafka.errors import for_code

        why = for_code(desc["error_code"]).__name__
        raise StackError(f"cannot describe topic {topic!r}: {why}")
    return sorted(
        (
            PartitionState(
                topic,
                p["partition_index"],
                p["leader_id"],
                tuple(p["replica_nodes"]),
                tuple(p["isr_nodes"]),
            )
            for p in desc["partitions"]
        ),
        key=lambda s: s.partition,
    )


def status() -> list[dict]:
    """One row per node: name, role, node id, address, pid and state."""
    live = set(live_brokers(2.0)) if any(b.state() == "running" for b in brokers()) else set()
    rows = []
    for n in nodes():
        state = n.state()
        if n.role == "broker" and state == "running" and n.node_id not in live:
            state = "running (not registered)"
        rows.append(
            {
                "name": n.name,
                "role": n.role,
                "node_id": n.node_id,
                "address": n.address,
                "pid": n.pid(),
                "state": state,
            }
        )
    return rows


def status_lines(topic: str | None = None) -> list[str]:
    lines = [
        f"{r['name']:<11} {r['role']:<10} id {r['node_id']}  {r['address']:<16} "
        f"pid {r['pid'] or '-':<8} {r['state']}"
        for r in status()
    ]
    if topic:
        lines += [p.line() for p in describe(topic)]
    return lines


def running() -> bool:
    """True if every node of the cluster runs (none stopped or frozen)."""
    return all(n.state() == "running" for n in nodes())

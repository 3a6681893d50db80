"""The native stack: a real redis-server and a real Apache Kafka broker (KRaft), run as
local processes bound to 127.0.0.1.

Kafka runs from the official Maven Central artifacts with the local JDK: ``pom.xml`` beside
this file pins the version, Maven copies the runtime classpath into a cache folder once, and
the broker is started with ``java -cp <jars> kafka.Kafka server.properties``. Each process's
pid is kept in a pid file; ``stop`` signals only those pids, and only after checking that the
process is still the one the stack started (its command line names this stack's folder).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from labs.stack import config
from labs.stack.prereqs import StackError, require, require_java
from labs.stack.probe import Health, kafka_health, port_open, redis_health, wait_for

HERE = Path(__file__).resolve().parent
READY_TIMEOUT_S = 90.0
MAVEN_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class Service:
    """One process of the native stack and where its files live."""

    name: str
    port: int

    @property
    def home(self) -> Path:
        return config.stack_dir() / self.name

    @property
    def pid_file(self) -> Path:
        return self.home / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.home / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid of the running process the stack started, or None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _is_ours(pid, self.home) else None


def redis_service() -> Service:
    return Service("redis", config.redis_port())


def kafka_service() -> Service:
    return Service("kafka", config.kafka_port())


def _is_ours(pid: int, home: Path) -> bool:
    """True if ``pid`` runs in ``home`` or below (the stack starts each process there), so a
    pid that the system reused for another program is never signalled."""
    try:
        cwd = Path(os.readlink(f"/proc/{pid}/cwd").removesuffix(" (deleted)"))
        if not cwd.is_relative_to(home):
            # A starting JVM visits its hsperfdata directory for a moment (chdir and back):
            # its command line (config file, log dir under home) still says it is ours.
            args = _cmdline(pid)
            if not any(_under(a, home) for a in args):
                return False
        return _alive(pid)
    except OSError:
        pass
    if Path("/proc").exists():
        return False
    try:  # no /proc (macOS): the pid file and a live pid are all there is to go on
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _cmdline(pid: int, wait_s: float = 0.5) -> list[str]:
    """The arguments of ``pid``. Right after an exec the kernel shows an empty command line
    until the new program's arguments are in place: wait a moment for them."""
    deadline = time.monotonic() + wait_s
    while True:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        if raw or time.monotonic() >= deadline:
            return [a.decode(errors="replace") for a in raw.split(b"\0") if a]
        time.sleep(0.005)


def _under(arg: str, home: Path) -> bool:
    """``arg`` (a command-line argument, maybe ``-Dname=path``) names a path under ``home``."""
    value = arg.split("=", 1)[1] if arg.startswith("-") and "=" in arg else arg
    return value.startswith("/") and Path(value).is_relative_to(home)


# --------------------------------------------------------------------------- Kafka jars


def kafka_libs() -> Path:
    """The folder of Kafka jars, resolved by Maven from ``pom.xml`` on first use."""
    pom = HERE / "pom.xml"
    stamp = hashlib.sha256(pom.read_bytes()).hexdigest()[:16]
    libs = config.cache_dir() / f"kafka-{config.KAFKA_VERSION}-{stamp}"
    if (libs / "READY").exists():
        return libs
    mvn = require("mvn")
    tmp = libs.with_name(libs.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    print(f"Fetching the Kafka {config.KAFKA_VERSION} jars with Maven (once) into {libs} ...")
    cmd = [
        mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={tmp}",
    ]  # fmt: skip
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=MAVEN_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise StackError(
            f"Maven did not finish within {MAVEN_TIMEOUT_S:.0f} s while fetching the Kafka "
            "jars; check that Maven Central is reachable, then run `python -m labs.stack up` again."
        ) from exc
    if out.returncode != 0:
        tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-15:])
        raise StackError(f"Maven could not fetch the Kafka jars:\n{tail}")
    bindings = [p.name for p in tmp.glob("*.jar") if re.match(r"(log4j-slf4j|slf4j-\w+\d)", p.name)]
    if len(bindings) != 1:
        raise StackError(f"expected exactly one SLF4J binding in the Kafka jars, got {bindings}")
    (tmp / "READY").write_text(config.KAFKA_VERSION)
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    return libs


# --------------------------------------------------------------------------- start


def _check_port_free(service: Service) -> None:
    if port_open(config.HOST, service.port):
        var = f"COURSE_{service.name.upper()}_PORT"
        raise StackError(
            f"port {config.HOST}:{service.port} is already in use by another program, so the "
            f"course's {service.name} cannot start there. Stop that program (see `ss -ltnp "
            f"'sport = :{service.port}'` or `lsof -i :{service.port}`), or pick another port: "
            f"{var}=<port> python -m labs.stack up"
        )


def _spawn(service: Service, cmd: list[str], env: dict[str, str] | None = None) -> int:
    service.home.mkdir(parents=True, exist_ok=True)
    with open(service.log_file, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=service.home,
            env=env,
            start_new_session=True,  # survives the CLI; not killed by a terminal's ^C
        )
    service.pid_file.write_text(str(proc.pid))
    return proc.pid


def _fail(service: Service, why: str) -> StackError:
    tail = ""
    if service.log_file.exists():
        lines = service.log_file.read_text(errors="replace").splitlines()[-12:]
        tail = "\n  " + "\n  ".join(lines)
    return StackError(
        f"{service.name} did not start: {why}. Read its log: {service.log_file}{tail}"
    )


def start_redis(deadline: float) -> Health:
    svc = redis_service()
    url = f"redis://{config.HOST}:{svc.port}/0"
    if svc.pid() is not None:
        return wait_for(lambda: _healthy(redis_health(url)), deadline) or redis_health(url)
    _check_port_free(svc)
    server = require("redis-server")
    data = svc.home / "data"
    data.mkdir(parents=True, exist_ok=True)
    pid = _spawn(
        svc,
        [
            server, "--port", str(svc.port), "--bind", config.HOST,
            "--protected-mode", "yes", "--save", "", "--appendonly", "no",
            "--dir", str(data), "--daemonize", "no",
        ],
    )  # fmt: skip
    health = wait_for(lambda: _healthy(redis_health(url, 1.0)) or not _alive(pid), deadline)
    if not isinstance(health, Health):
        raise _fail(svc, "the process exited" if not _alive(pid) else "timed out")
    return health


def _server_properties(svc: Service) -> str:
    ctl = config.controller_port()
    data = svc.home / "data"
    return f"""# Written by `python -m labs.stack up`: a single-node Kafka (KRaft), loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers={config.HOST}:{ctl}
listeners=PLAINTEXT://{config.HOST}:{svc.port},CONTROLLER://{config.HOST}:{ctl}
advertised.listeners=PLAINTEXT://{config.HOST}:{svc.port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data}
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
log.cleaner.dedupe.buffer.size=16777216
# Labs show retention at work within seconds.
log.retention.check.interval.ms=1000
# Kafka 3.8+ (KAFKA-16552, an internal setting): the first check 1 s after start-up, not 30 s.
log.initial.task.delay.ms=1000
log.segment.delete.delay.ms=0
# The compaction lab sees the log cleaner at work within seconds (default 15000 ms: how long
# the cleaner sleeps when no log is dirty enough to clean).
log.cleaner.backoff.ms=1000
"""


def start_kafka(deadline: float) -> Health:
    svc = kafka_service()
    bootstrap = f"{config.HOST}:{svc.port}"
    if svc.pid() is not None:
        check = lambda: _healthy(kafka_health(bootstrap, 2.0, _kafka_version(svc)))  # noqa: E731
        return wait_for(check, deadline) or kafka_health(bootstrap)
    _check_port_free(svc)
    _check_port_free(Service("controller", config.controller_port()))
    java = require_java(17)
    libs = kafka_libs()
    svc.home.mkdir(parents=True, exist_ok=True)
    props = svc.home / "server.properties"
    props.write_text(_server_properties(svc))
    classpath = str(libs / "*")
    if not (svc.home / "data" / "meta.properties").exists():
        cluster_id = _run_java(java, classpath, ["kafka.tools.StorageTool", "random-uuid"])
        _run_java(
            java,
            classpath,
            ["kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id.strip(),
             "-c", str(props)],
        )  # fmt: skip
    svc.log_file.write_text("")  # readiness is read from this run's log only
    pid = _spawn(
        svc,
        [
            java, "-Xms512m", "-Xmx512m", "-XX:+UseG1GC", "-XX:-UsePerfData",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={svc.home}", f"-Dlog4j2.configurationFile={HERE / 'log4j2.xml'}",
            "-cp", classpath, "kafka.Kafka", str(props),
        ],
    )  # fmt: skip

    def ready() -> Health | bool:
        if not _alive(pid):
            return True  # stop waiting: it died
        if "Kafka Server started" not in svc.log_file.read_text(errors="replace"):
            return False
        return _healthy(kafka_health(bootstrap, 2.0, _kafka_version(svc)))

    health = wait_for(ready, deadline, 0.2)
    if not isinstance(health, Health):
        raise _fail(svc, "the process exited" if not _alive(pid) else "not ready in time")
    return health


def _run_java(java: str, classpath: str, args: list[str]) -> str:
    out = subprocess.run(
        [java, "-cp", classpath, *args], capture_output=True, text=True, timeout=120
    )
    if out.returncode != 0:
        raise StackError(f"`kafka-storage {' '.join(args[1:])}` failed:\n{out.stderr[-2000:]}")
    return out.stdout


def _kafka_version(svc: Service) -> str:
    try:
        m = re.search(r"Kafka version: (\S+)", svc.log_file.read_text(errors="replace"))
    except OSError:
        return ""
    return m.group(1) if m else ""


def _healthy(h: Health) -> Health | None:
    return h if h.reachable else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie (exited, not yet reaped) is not alive
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


def up() -> list[Health]:
    """Start Redis and Kafka unless they already run; wait until both answer."""
    import sim.progress as progress  # here: the stack's other commands need no simulator

    preflight()
    deadline = time.monotonic() + READY_TIMEOUT_S
    config.stack_dir().mkdir(parents=True, exist_ok=True)
    with progress.task("starting the brokers") as shown:
        shown.waiting_for("waiting for Redis to answer")
        redis_up = start_redis(deadline)
        shown.waiting_for("waiting for Kafka to start")
        return [redis_up, start_kafka(deadline)]


def preflight() -> None:
    """Check every program and port before starting anything, so a failure leaves no half
    stack behind."""
    redis_svc, kafka_svc = redis_service(), kafka_service()
    if redis_svc.pid() is None:
        require("redis-server")
        _check_port_free(redis_svc)
    if kafka_svc.pid() is None:
        require_java(17)
        _check_port_free(kafka_svc)
        _check_port_free(Service("controller", config.controller_port()))


# --------------------------------------------------------------------------- stop


def stop(service: Service, timeout_s: float = 30.0) -> bool:
    """Stop the process the stack started for ``service`` (if any). True if one was stopped."""
    pid = service.pid()
    service.pid_file.unlink(missing_ok=True)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not _alive(pid), time.monotonic() + 5)
    return True


def down(purge: bool = False) -> list[str]:
    """Stop Kafka then Redis; with ``purge`` also delete their data and logs."""
    stopped = [s.name for s in (kafka_service(), redis_service()) if stop(s)]
    if purge:
        shutil.rmtree(config.stack_dir(), ignore_errors=True)
    return stopped


def running() -> dict[str, int | None]:
    return {s.name: s.pid() for s in (redis_service(), kafka_service())}


def kafka_version() -> str:
    return _kafka_version(kafka_service())


def log_files() -> dict[str, Path]:
    return {s.name: s.log_file for s in (redis_service(), kafka_service())}

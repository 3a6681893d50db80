"""Private redis-server processes for one lab run: chosen persistence, an optional
``--replicaof``, loopback only, data in a temporary folder, never left running.

The course's Redis runs with ``--save "" --appendonly no`` and is shared by every lab, so a
lab that kills a server, restarts it on its data or promotes a replica starts its own with
:func:`private_servers`::

    with private_servers() as servers:
        primary = servers.start(appendonly=True, appendfsync="always")
        ...
        primary.kill()            # SIGKILL, as a crash
        primary = servers.restart(primary)   # same port, same data folder

On leaving the block -- also when the lab raised -- every server it started is killed
(SIGKILL, then waited for) and the temporary folder deleted; an ``atexit`` hook does the
same if the interpreter exits inside the block, and on Linux each server gets
``PR_SET_PDEATHSIG`` so that it dies with the Python process even on a ``kill -9`` of the
lab. Each server runs in a folder named ``course-redis-<learner>-*`` under the system's
temporary directory: :func:`leftovers` finds any such process (``python -m labs.stack
leftovers`` lists them).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from labs.stack import config
from labs.stack.prereqs import StackError, require

#: Seconds a private server may take to answer PING after it was started.
READY_TIMEOUT_S = 10.0
#: Seconds a killed server may take to be gone.
EXIT_TIMEOUT_S = 5.0
#: The allowed ``appendfsync`` values (redis.conf).
FSYNC_POLICIES = ("always", "everysec", "no")


def _prefix() -> str:
    return f"course-redis-{config.learner()}-"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((config.HOST, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to SIGKILL this child when the process that started it ends."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class Server:
    """One private redis-server: its port, data folder, flags and process."""

    name: str
    port: int
    home: Path
    args: tuple[str, ...]
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://{config.HOST}:{self.port}/0"

    @property
    def log_file(self) -> Path:
        return self.home / "redis.log"

    def client(self, socket_timeout: float = 5.0) -> redis.Redis:
        """A client with connect and socket timeouts (RESP2, bytes replies)."""
        return redis.Redis.from_url(
            self.url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=2.0,
            protocol=2,
            retry=Retry(NoBackoff(), 0),  # a dead server is the lesson: no silent reconnect
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            self.proc.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL the server (a crash: nothing is flushed) and wait until it is gone."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise StackError(
                f"private redis-server {self.name} (pid {self.proc.pid}) did not exit "
                f"{EXIT_TIMEOUT_S:.0f} s after SIGKILL; kill it by hand: kill -9 {self.proc.pid}"
            ) from exc

    def log_tail(self, lines: int = 8) -> str:
        try:
            return "\n  ".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class PrivateServers:
    """The private servers of one lab run; see the module docstring."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=_prefix()))
        self.servers: list[Server] = []

    def start(
        self,
        *,
        name: str = "primary",
        appendonly: bool = False,
        appendfsync: str = "everysec",
        replicaof: int | None = None,
        port: int | None = None,
    ) -> Server:
        """Start a redis-server with these persistence flags (RDB snapshots off) and wait
        until it answers; ``replicaof`` is the primary's port on 127.0.0.1."""
        if appendfsync not in FSYNC_POLICIES:
            raise ValueError(f'"appendfsync" must be one of {FSYNC_POLICIES}, got {appendfsync!r}.')
        home = self.root / name
        home.mkdir(parents=True, exist_ok=True)
        args = [
            "--port", str(port or free_port()), "--bind", config.HOST, "--protected-mode", "yes",
            "--save", "", "--appendonly", "yes" if appendonly else "no",
            "--appendfsync", appendfsync, "--dir", str(home), "--daemonize", "no",
            "--logfile", "redis.log",
            # A replica's first sync right away (the default waits 5 s for more replicas).
            "--repl-diskless-sync-delay", "0",
        ]  # fmt: skip
        if replicaof is not None:
            args += ["--replicaof", config.HOST, str(replicaof)]
        server = Server(name, int(args[1]), home, tuple(args))
        return self._launch(server)

    def restart(self, server: Server) -> Server:
        """Start ``server`` again (after a kill) with the same flags, port and data."""
        server.kill()
        return self._launch(server)

    def _launch(self, server: Server) -> Server:
        binary = require("redis-server")
        server.proc = subprocess.Popen(
            [binary, *server.args],
            cwd=server.home,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only a prctl, no locks taken
        )
        if server not in self.servers:
            self.servers.append(server)
        deadline = time.monotonic() + READY_TIMEOUT_S
        client = server.client(socket_timeout=1.0)
        try:
            while True:
                if not server.alive():
                    raise StackError(
                        f"private redis-server {server.name} exited at start (port "
                        f"{server.port}); its log:\n  {server.log_tail()}"
                    )
                with contextlib.suppress(redis.ConnectionError, redis.BusyLoadingError):
                    if client.ping():
                        return server
                if time.monotonic() >= deadline:
                    raise StackError(
                        f"private redis-server {server.name} did not answer within "
                        f"{READY_TIMEOUT_S:.0f} s on port {server.port}; a loaded machine? "
                        f"Its log:\n  {server.log_tail()}"
                    )
                time.sleep(0.02)
        finally:
            client.close()

    def close(self) -> None:
        """Kill every server started here and delete the data folder."""
        errors = []
        for server in self.servers:
            try:
                server.kill()
            except StackError as exc:
                errors.append(str(exc))
        self.servers.clear()
        shutil.rmtree(self.root, ignore_errors=True)
        if errors:
            raise StackError("; ".join(errors))


@contextlib.contextmanager
def private_servers() -> Iterator[PrivateServers]:
    """Private servers for one block: all killed and their data deleted on leaving it."""
    servers = PrivateServers()
    atexit.register(servers.close)
    try:
        yield servers
    finally:
        atexit.unregister(servers.close)
        servers.close()


def leftovers() -> tuple[str, ...]:
    """Private redis-servers of this learner still running: ``"pid 123 in /tmp/..."``."""
    if not Path("/proc").exists():
        return ()
    found = []
    tmp = Path(tempfile.gettempdir()).resolve()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            exe = (entry / "cmdline").read_bytes().split(b"\0", 1)[0]
        except OSError:
            continue
        if b"redis-server" not in exe or cwd.parent.parent != tmp:
            continue
        if cwd.parent.name.startswith(_prefix()):
            found.append(f"pid {entry.name} in {cwd}")
    return tuple(sorted(found))

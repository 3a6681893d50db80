"""A network link with a one-way delay between a Redis replica and its primary, that can be cut.

On one machine a replica is never behind: the primary writes its replication stream to a
loopback socket in the same event-loop turn as the reply to the client, and a SIGKILLed
process's socket still delivers what it had sent. A replica in production is behind by the
network's delay and by whatever stalls its link. :class:`LagLink` puts that delay back: the
replica connects (``--replicaof 127.0.0.1 <link.port>``) to this relay, which forwards every
chunk of bytes ``delay_ms`` after it arrived, in both directions -- a slow link, as between
two zones. :meth:`LagLink.cut` is the primary's machine failing: its process killed and its
link down at the same instant, so what was still on the way to the replica never arrives
(the queues are dropped, the sockets closed). Delays are measured in real time, so a loaded
machine adds its own stalls (the lab reports the delays it measured).
"""

from __future__ import annotations

import collections
import contextlib
import socket
import struct
import threading
import time

from labs.stack import config

#: Seconds a blocked socket call waits before the relay looks at its stop flag again.
POLL_S = 0.05


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with a TCP reset (SO_LINGER 0): nothing queued is delivered."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class _Pipe:
    """One direction: bytes read from ``src`` are written to ``dst`` ``delay_s`` later."""

    def __init__(self, src: socket.socket, dst: socket.socket, delay_s: float, stop) -> None:
        self.src, self.dst, self.delay_s, self.stop = src, dst, delay_s, stop
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()
        self.ready = threading.Condition()
        self.lags: list[float] = []  # measured delay of each forwarded chunk (s)
        self.threads = [
            threading.Thread(target=self._read, daemon=True, name="lag-link-read"),
            threading.Thread(target=self._write, daemon=True, name="lag-link-write"),
        ]
        for t in self.threads:
            t.start()

    def _read(self) -> None:
        self.src.settimeout(POLL_S)
        while not self.stop.is_set():
            try:
                data = self.src.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            with self.ready:
                self.queue.append((time.monotonic(), data))
                self.ready.notify()
        self.stop.set()

    def _write(self) -> None:
        while not self.stop.is_set():
            with self.ready:
                if not self.queue:
                    self.ready.wait(POLL_S)
                    continue
                arrived, data = self.queue[0]
                due = arrived + self.delay_s - time.monotonic()
                if due > 0:
                    self.ready.wait(min(due, POLL_S))
                    continue
                self.queue.popleft()
            try:
                self.dst.sendall(data)
            except OSError:
                break
            self.lags.append(time.monotonic() - arrived)
        self.stop.set()


class LagLink:
    """A relay on 127.0.0.1 to ``upstream_port`` that delays each direction by ``delay_ms``."""

    def __init__(self, upstream_port: int, delay_ms: float) -> None:
        if not 0 <= delay_ms <= 10000:
            raise ValueError(f'"delay_ms" must be in [0, 10000] ms, got {delay_ms!r}.')
        self.upstream_port, self.delay_s = upstream_port, delay_ms / 1000.0
        self.listener = socket.create_server((config.HOST, 0))
        self.listener.settimeout(POLL_S)
        self.port = int(self.listener.getsockname()[1])
        self.closed = threading.Event()
        self.pipes: list[_Pipe] = []
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.acceptor = threading.Thread(target=self._accept, daemon=True, name="lag-link")
        self.acceptor.start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                down, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                up = socket.create_connection((config.HOST, self.upstream_port), timeout=2.0)
            except OSError:
                _reset(down)
                continue
            for sock in (down, up):  # as Redis's own sockets: no Nagle delay on small writes
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            stop = threading.Event()
            with self.lock:
                if self.closed.is_set():
                    _reset(down)
                    _reset(up)
                    return
                self.sockets += [down, up]
                self.pipes += [
                    _Pipe(up, down, self.delay_s, stop),
                    _Pipe(down, up, self.delay_s, stop),
                ]

    def lags_ms(self) -> list[float]:
        """The measured delay of every chunk forwarded so far, in ms."""
        with self.lock:
            return [lag * 1000.0 for p in self.pipes for lag in p.lags]

    def in_flight(self) -> int:
        """Bytes received and not yet forwarded (what a cut now would drop)."""
        with self.lock:
            return sum(len(d) for p in self.pipes for _, d in list(p.queue))

    def cut(self) -> None:
        """The link goes down: stop forwarding, reset every connection, drop the queues."""
        self.closed.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        with self.lock:
            for p in self.pipes:
                p.stop.set()
            for s in self.sockets:  # what was forwarded already is delivered (a FIN)
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()
        self.acceptor.join(timeout=2.0)
        with self.lock:
            for p in self.pipes:
                with p.ready:
                    p.queue.clear()
                    p.ready.notify_all()
            pipes = list(self.pipes)
        for p in pipes:
            for t in p.threads:
                t.join(timeout=2.0)

    close = cut

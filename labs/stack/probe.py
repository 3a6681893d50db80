"""Is a broker there, and which version is it? Quick checks with short timeouts.

Used by ``up`` (readiness), ``status`` and the test fixtures. Every check returns within
its timeout; none raises for an unreachable broker.
"""

from __future__ import annotations

import random
import socket
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Health:
    """What a probe found: reachable or not, the version, and where it listens."""

    broker: str
    address: str
    reachable: bool
    version: str = ""
    detail: str = ""

    def line(self) -> str:
        state = f"up, version {self.version}" if self.reachable else f"DOWN ({self.detail})"
        return f"{self.broker:<6} {self.address:<24} {state}"


def port_open(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


#: Where :func:`free_ports` looks: above the course's default ports (16379, 19092-19193)
#: and below the kernel's ephemeral range.
PRIVATE_PORTS = (23000, 32768)


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct TCP ports free on ``host`` now (for private stacks in tests), below the
    kernel's ephemeral range: a port from that range that a node frees when it is killed can
    be taken as the source port of any program's outgoing connection before the node starts
    again, and the restart then fails with "Address already in use"."""
    low, high = PRIVATE_PORTS
    try:
        first = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]
        high = min(high, int(first))
    except (OSError, ValueError, IndexError):
        pass
    rng = random.SystemRandom()
    socks: list[socket.socket] = []
    try:
        for _ in range(50 * n):
            if len(socks) == n:
                break
            s = socket.socket()
            try:
                s.bind((host, rng.randrange(low, high)))
            except OSError:
                s.close()
                continue
            socks.append(s)
        while len(socks) < n:  # no luck below the range: any free port
            socks.append(socket.socket())
            socks[-1].bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def redis_health(url: str, timeout_s: float = 3.0) -> Health:
    import redis

    address = url.split("@")[-1]
    try:
        client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        try:
            version = client.info("server")["redis_version"]
        finally:
            client.close()
    except Exception as exc:  # any client error means "not usable"
        return Health("redis", address, False, detail=_short(exc))
    return Health("redis", address, True, version=str(version))


def kafka_health(bootstrap: str, timeout_s: float = 5.0, exact_version: str = "") -> Health:
    """Reachability through a metadata request; the version is the API version the broker
    supports (``exact_version`` when the caller knows it, as the native stack does)."""
    from kafka import KafkaAdminClient

    ms = int(timeout_s * 1000)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=ms,
            connections_max_idle_ms=max(ms * 2, 10_000),
            reconnect_backoff_max_ms=500,
        )
        try:
            brokers = admin.describe_cluster()["brokers"]
            api = admin._client.check_version(timeout_ms=ms)
        finally:
            admin.close()
    except Exception as exc:  # any client error means "not usable"
        return Health("kafka", bootstrap, False, detail=_short(exc))
    version = exact_version or ".".join(str(x) for x in api) + " (API)"
    return Health("kafka", bootstrap, True, version=version, detail=f"{len(brokers)} broker(s)")


def wait_for(check, deadline: float, interval_s: float = 0.25):
    """Call ``check()`` until it returns a truthy value or the monotonic ``deadline`` passes;
    return the last value."""
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval_s)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]

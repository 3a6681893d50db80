"""Where the course's brokers listen, and where the stack keeps its files.

The course's own brokers use uncommon ports (Redis 16379, Kafka 19092, the KRaft controller
19093) so that they never collide with a Redis or Kafka a learner already runs; the
``COURSE_REDIS_PORT``, ``COURSE_KAFKA_PORT`` and ``COURSE_CONTROLLER_PORT`` variables move
them. ``REDIS_URL`` and ``KAFKA_BOOTSTRAP_SERVERS`` point the labs at brokers that already
run elsewhere (a workshop cluster, a managed service); with both set the stack starts nothing.

Every name a lab creates carries its learner (:func:`learner`: ``COURSE_LEARNER``, else the
user name, as ``[a-z0-9-]``, at most 24 characters): Kafka ``course-<learner>.<rest>``, Redis
``course:<learner>.<rest>``. A learner name never holds ``.`` or ``:``, so
:func:`owner` reads it back unambiguously and one learner's ``reset`` on a shared workshop
cluster deletes their names and nobody else's. Course names without a learner part (made
by hand, or by older runs) belong to nobody; keys under ``course:lock:`` are shared.
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

#: The Kafka version of the native broker (labs/stack/pom.xml) and of the compose image.
KAFKA_VERSION = "4.1.1"
#: The Redis image tag in docker-compose.yml; the native stack runs the local redis-server 7.x.
REDIS_IMAGE_VERSION = "7.4.2"

HOST = "127.0.0.1"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: Prefixes of every name the course creates: Kafka topics and groups, Redis keys/channels.
KAFKA_PREFIX = "course-"
REDIS_PREFIX = "course:"
#: Redis keys every learner shares (e.g. the backpressure lab's lock); never a learner's.
SHARED_PREFIX = "course:lock:"
#: Longest learner part of a name.
LEARNER_MAX = 24
#: Separator between the learner and the rest of a name (never in a learner name).
LEARNER_SEP = "."


def sanitize_learner(raw: str) -> str:
    """``raw`` as a learner name: lower case ``[a-z0-9-]``, no ``--``, at most 24 characters."""
    name = re.sub(r"[^a-z0-9]+", "-", raw.strip().lower()).strip("-")
    name = name[:LEARNER_MAX].strip("-")
    return name or "learner"


def learner() -> str:
    """Whose names these are: ``COURSE_LEARNER``, else the user name (sanitised)."""
    raw = os.environ.get("COURSE_LEARNER", "").strip()
    if not raw:
        try:
            raw = getpass.getuser()
        except (OSError, KeyError):  # no user name in the environment or the password file
            raw = f"uid{os.getuid()}" if hasattr(os, "getuid") else "learner"
    return sanitize_learner(raw)


def kafka_prefix(who: str | None = None) -> str:
    """The prefix of every Kafka topic and group of learner ``who`` (default: this one)."""
    return f"{KAFKA_PREFIX}{who or learner()}{LEARNER_SEP}"


def redis_prefix(who: str | None = None) -> str:
    """The prefix of every Redis key, channel and stream of learner ``who``."""
    return f"{REDIS_PREFIX}{who or learner()}{LEARNER_SEP}"


def owner(name: str | bytes) -> str | None:
    """The learner a course name belongs to; ``""`` for a course name of nobody; ``None``
    for a name that is not the course's at all (or a shared ``course:lock:`` key)."""
    if isinstance(name, bytes):
        name = name.decode(errors="replace")
    if name.startswith(KAFKA_PREFIX):
        head = name[len(KAFKA_PREFIX) :]
    elif name.startswith(REDIS_PREFIX):
        if name.startswith(SHARED_PREFIX):
            return None
        head = name[len(REDIS_PREFIX) :].split(":", 1)[0]
    else:
        return None
    who, sep, _ = head.partition(LEARNER_SEP)
    return who if sep and who and sanitize_learner(who) == who else ""


def _port(var: str, default: int) -> int:
    raw = os.environ.get(var, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 1024 <= port <= 65535:
        raise ValueError(f'"{var}" must be a port number in 1024..65535, got {raw!r}.')
    return port


def redis_port() -> int:
    return _port("COURSE_REDIS_PORT", 16379)


def kafka_port() -> int:
    return _port("COURSE_KAFKA_PORT", 19092)


def controller_port() -> int:
    return _port("COURSE_CONTROLLER_PORT", 19093)


def stack_dir() -> Path:
    """The project-local folder with the brokers' data, logs and pid files."""
    return Path(os.environ.get("COURSE_STACK_DIR", PROJECT_ROOT / ".stack")).resolve()


def cache_dir() -> Path:
    """Where the Kafka jars are cached once resolved by Maven (kept by ``down --purge``)."""
    return Path(os.environ.get("COURSE_CACHE_DIR", PROJECT_ROOT / ".cache")).resolve()


@dataclass(frozen=True)
class Endpoints:
    """Connection strings for the two brokers, and whether they were given from outside."""

    redis_url: str
    kafka_bootstrap_servers: str
    external: bool

    @property
    def redis_host_port(self) -> tuple[str, int]:
        u = urlparse(self.redis_url)
        return u.hostname or HOST, u.port or 6379

    @property
    def kafka_host_port(self) -> tuple[str, int]:
        first = self.kafka_bootstrap_servers.split(",")[0].strip()
        host, _, port = first.rpartition(":")
        return host or HOST, int(port)


def endpoints() -> Endpoints:
    """The brokers labs and tests talk to: from the environment, else the course's own."""
    redis_url = os.environ.get("REDIS_URL", "").strip()
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    return Endpoints(
        redis_url=redis_url or f"redis://{HOST}:{redis_port()}/0",
        kafka_bootstrap_servers=kafka or f"{HOST}:{kafka_port()}",
        external=bool(redis_url and kafka),
    )

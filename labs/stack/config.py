"""Where the course's brokers listen, and where the stack keeps its files.

The course's own brokers use uncommon ports (Redis 16379, Kafka 19092) so that they never
collide with a Redis or Kafka a learner already runs. ``REDIS_URL`` and
``KAFKA_BOOTSTRAP_SERVERS`` override them: set both to use brokers that already run
elsewhere (a workshop cluster, a managed service); the stack then starts nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: The Kafka version of the native broker (labs/stack/pom.xml) and of the compose image.
KAFKA_VERSION = "4.1.1"
#: The Redis image tag in docker-compose.yml; the native stack takes the local redis-server.
REDIS_IMAGE_VERSION = "7.4.2"

REDIS_PORT = 16379
KAFKA_PORT = 19092
CONTROLLER_PORT = 19093
HOST = "127.0.0.1"

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def stack_dir() -> Path:
    """The project-local folder with the brokers' data, logs, pid files and cached jars."""
    return Path(os.environ.get("COURSE_STACK_DIR", PROJECT_ROOT / ".stack")).resolve()


@dataclass(frozen=True)
class Endpoints:
    """Connection strings for the two brokers, and whether they were given from outside."""

    redis_url: str
    kafka_bootstrap_servers: str
    external: bool

    @property
    def redis_host_port(self) -> tuple[str, int]:
        from urllib.parse import urlparse

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
        redis_url=redis_url or f"redis://{HOST}:{REDIS_PORT}/0",
        kafka_bootstrap_servers=kafka or f"{HOST}:{KAFKA_PORT}",
        external=bool(redis_url and kafka),
    )

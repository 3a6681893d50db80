"""The Docker stack: ``docker compose`` with the project's ``docker-compose.yml``.

Used when a Docker engine answers (and ``COURSE_STACK`` does not ask for ``native``). The
compose file runs the official ``apache/kafka`` (single node, KRaft) and ``redis`` images,
publishes their ports on 127.0.0.1 only, and has healthchecks that ``up --wait`` waits on.
"""

from __future__ import annotations

import shutil
import subprocess

from labs.stack import config
from labs.stack.prereqs import StackError

COMPOSE_FILE = config.PROJECT_ROOT / "docker-compose.yml"
PROJECT = "event-delivery-course"


def engine_answers(timeout_s: float = 5.0) -> bool:
    """True if a ``docker`` client exists and its engine answers within ``timeout_s``."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        out = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and bool(out.stdout.strip())


def compose(*args: str, timeout_s: float = 180.0) -> subprocess.CompletedProcess:
    cmd = ["docker", "compose", "-p", PROJECT, "-f", str(COMPOSE_FILE), *args]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise StackError(
            f"`{' '.join(cmd)}` did not finish within {timeout_s:.0f} s; see "
            f"`docker compose -p {PROJECT} logs`"
        ) from exc
    if out.returncode != 0:
        raise StackError(
            f"`{' '.join(cmd)}` failed:\n{out.stderr.strip()[-2000:]}\n"
            f"See `docker compose -p {PROJECT} logs`. On Apple Silicon, Docker Desktop runs "
            "both images natively (arm64); see the README's troubleshooting."
        )
    return out


def up() -> None:
    compose("up", "-d", "--wait", "--wait-timeout", "90")


def down(purge: bool = False) -> None:
    compose("down", *(["--volumes"] if purge else []))


def running() -> bool:
    try:
        out = compose("ps", "--services", "--status", "running", timeout_s=20)
    except StackError:
        return False
    return bool(out.stdout.strip())


def logs(service: str, lines: int) -> str:
    return compose("logs", "--no-color", "--tail", str(lines), service, timeout_s=30).stdout

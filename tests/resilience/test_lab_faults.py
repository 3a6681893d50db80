"""A broker that dies in the middle of a lab or twin ends it within 15 s with one line.

Each test runs its own private native stack (Redis + Kafka on free ports, its own folder),
starts a lab or a twin against it, waits until the run has created its names on the
brokers, SIGKILLs one broker through its pid file and checks what the learner sees: exit
within 15 s, a non-zero status, ONE line on stderr naming the broker, its address and the
command that restarts the brokers, no traceback -- and, in-process, no lab thread left
running afterwards. The killed broker is started again before the next test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
from kafka import KafkaAdminClient

from labs.clients import RESTART_HINT, BrokerLost
from labs.stack import config
from labs.stack.probe import free_ports

pytestmark = pytest.mark.brokers

#: The promise: a dead broker ends a lab within this many seconds.
BUDGET_S = 15.0


@pytest.fixture(scope="module")
def private_stack(tmp_path_factory):
    """Environment of a private native stack for this module; stopped at the end."""
    redis_port, kafka_port, ctl_port = free_ports(3)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", "COURSE_STACK", "COURSE_LEARNER")
    }
    env.update(
        COURSE_STACK="native",
        COURSE_STACK_DIR=str(tmp_path_factory.mktemp("faults") / "stack"),
        COURSE_REDIS_PORT=str(redis_port),
        COURSE_KAFKA_PORT=str(kafka_port),
        COURSE_CONTROLLER_PORT=str(ctl_port),
        COURSE_CACHE_DIR=str(config.cache_dir()),
    )
    yield env
    _stack(env, "down", "--purge")


@pytest.fixture
def stack_env(private_stack):
    """The private stack, both brokers up (a broker killed by the last test is restarted)."""
    up = _stack(private_stack, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    return dict(private_stack, COURSE_LEARNER=f"faults-{uuid.uuid4().hex[:6]}")


def _stack(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "labs.stack", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=config.PROJECT_ROOT,
    )


def _address(env: dict, broker: str) -> str:
    if broker == "redis":
        return f"redis://127.0.0.1:{env['COURSE_REDIS_PORT']}/0"
    return f"127.0.0.1:{env['COURSE_KAFKA_PORT']}"


def _names_of(env: dict, learner: str, lab: str) -> bool:
    """True once the run of ``lab`` by ``learner`` created a Kafka topic on the stack."""
    admin = KafkaAdminClient(
        bootstrap_servers=_address(env, "kafka"), request_timeout_ms=3000, client_id="faults"
    )
    try:
        prefix = f"course-{learner}.{lab}-"
        return any(t.startswith(prefix) for t in admin.list_topics())
    finally:
        admin.close()


def _kill_when_running(env: dict, lab: str, broker: str, *, settle_s: float = 0.7) -> float:
    """Wait until the run created its topic, let it run ``settle_s`` more, SIGKILL
    ``broker``; return the monotonic time of the kill."""
    deadline = time.monotonic() + 60
    while not _names_of(env, env["COURSE_LEARNER"], lab):
        assert time.monotonic() < deadline, f"the {lab} run never created its topic"
        time.sleep(0.1)
    time.sleep(settle_s)
    pid_file = Path(env["COURSE_STACK_DIR"]) / broker / f"{broker}.pid"
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    return time.monotonic()


def _check_line(stderr: str, env: dict, broker: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    name = "Redis" if broker == "redis" else "Kafka"
    assert lines[0].startswith(f"{name} at {_address(env, broker)} stopped answering"), lines
    assert lines[0].endswith(RESTART_HINT), lines


@pytest.mark.parametrize("broker", ["redis", "kafka"])
@pytest.mark.parametrize(
    "command, lab",
    [(["run", "loss"], "loss"), (["twin", "loss"], "twincal")],
    ids=["run-loss", "twin-loss"],
)
def test_cli_ends_with_one_line_when_a_broker_dies(stack_env, broker, command, lab):
    proc = subprocess.Popen(
        [sys.executable, "-m", "labs", *command],
        env=stack_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=config.PROJECT_ROOT,
    )
    try:
        killed_at = _kill_when_running(stack_env, lab, broker)
        out, err = proc.communicate(timeout=BUDGET_S + 30)
        took = time.monotonic() - killed_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert took < BUDGET_S, (took, err)
    assert proc.returncode == 3, (proc.returncode, out, err)
    _check_line(err, stack_env, broker)


@pytest.mark.parametrize("broker", ["redis", "kafka"])
def test_in_process_lab_raises_broker_lost_and_leaves_no_thread(stack_env, broker, monkeypatch):
    from labs.hybrid import run_hybrid

    for key in ("COURSE_REDIS_PORT", "COURSE_KAFKA_PORT", "COURSE_LEARNER"):
        monkeypatch.setenv(key, stack_env[key])
    for key in ("REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(key, raising=False)
    before = set(threading.enumerate())
    killed: list[float] = []
    killer = threading.Thread(
        target=lambda: killed.append(_kill_when_running(stack_env, "hybrid", broker)),
        name="test-killer",
    )
    killer.start()
    try:
        with pytest.raises(BrokerLost) as err:
            run_hybrid(window_s=6.0)
        ended = time.monotonic()
    finally:
        killer.join(60)
    assert killed and ended - killed[0] < BUDGET_S
    message = str(err.value)
    assert "\n" not in message and message.endswith(RESTART_HINT)
    assert message.startswith(f"{'Redis' if broker == 'redis' else 'Kafka'} at ")
    # Every thread the lab started has stopped (kafka-python's client threads included).
    deadline = time.monotonic() + 5
    while (left := [t.name for t in set(threading.enumerate()) - before if t.is_alive()]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert left == [], left
    # The surviving broker holds nothing of this run any more.
    if broker == "kafka":
        r = redis.Redis.from_url(_address(stack_env, "redis"))
        assert list(r.scan_iter(match=f"course:{stack_env['COURSE_LEARNER']}.*")) == []
        r.close()
    else:
        assert not _names_of(stack_env, stack_env["COURSE_LEARNER"], "hybrid")

"""With the brokers unreachable a lab fails fast with a one-line how-to-start message."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from labs.clients import START_HINT, BrokerUnavailable
from labs.loss import run_loss
from labs.replay import run_replay


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_redis_unreachable(monkeypatch):
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{unused_port()}/0")
    start = time.monotonic()
    with pytest.raises(BrokerUnavailable) as err:
        run_loss()
    assert time.monotonic() - start < 10
    message = str(err.value)
    assert "\n" not in message
    assert "Redis" in message and START_HINT in message


def test_kafka_unreachable(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{unused_port()}")
    start = time.monotonic()
    with pytest.raises(BrokerUnavailable) as err:
        run_replay()
    assert time.monotonic() - start < 10
    assert "Kafka" in str(err.value) and START_HINT in str(err.value)


def test_cli_prints_one_line_and_exits_3():
    env = dict(
        os.environ,
        REDIS_URL=f"redis://127.0.0.1:{unused_port()}/0",
        KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{unused_port()}",
    )
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "labs", "run", "hybrid"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert time.monotonic() - start < 10
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and START_HINT in lines[0]

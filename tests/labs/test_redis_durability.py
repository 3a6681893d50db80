"""Redis durability lab, on real redis-server processes the lab starts itself: what a kill -9
loses per persistence policy, what a failover to an asynchronous replica loses, none with
WAIT -- and no redis-server left behind, also when the lab fails half-way.

These tests need the ``redis-server`` program, not the course's brokers: the lab runs its
own servers (:mod:`labs.stack.private_redis`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import labs.redis_durability as lab
from labs.lag_link import LagLink
from labs.lessons import check
from labs.stack import private_redis
from labs.stack.leftovers import Leftovers
from labs.stack.private_redis import private_servers


@pytest.fixture(autouse=True)
def _no_private_server_left():
    assert private_redis.leftovers() == (), "a private redis-server ran before the test"
    yield
    assert private_redis.leftovers() == ()


def test_default_run_shows_the_lesson_within_30_s():
    started = time.monotonic()
    result = lab.run_redis_durability()
    took = time.monotonic() - started
    assert check("redis_durability", result) == []
    assert took <= 30.0, f"the default run took {took:.1f} s"
    m = result.metrics
    # The acceptance items, read from the run: appendonly no loses every acknowledged XADD,
    # appendfsync always none on a process kill; the asynchronous failover loses some at
    # both rates, WAIT-confirmed writes none.
    assert m["lost_after_restart:no-aof"] == m["acked:no-aof"] == 1000
    assert m["lost_after_restart:always"] == 0
    for label in ("low", "high"):
        assert m[f"lost_on_failover:{label}"] > 0
        assert m[f"lost_with_wait:{label}"] == 0
        assert m[f"wait_p50_ms:{label}"] > m[f"async_p50_ms:{label}"]
    # The checker agrees with the metrics (one reader per run).
    assert result.report["restart:no-aof"].lost == 1000
    assert result.report["failover:high"].lost == m["lost_on_failover:high"]


def test_a_higher_rate_loses_more_on_failover():
    result = lab.run_redis_durability(
        records=50, rate_per_s=100.0, high_rate_per_s=800.0, lag_ms=60.0, kill_after_s=0.6
    )
    assert check("redis_durability", result) == []
    m = result.metrics
    assert m["lost_on_failover:high"] > m["lost_on_failover:low"]


def test_no_server_left_when_the_lab_fails_half_way(monkeypatch):
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        # Servers are running now: a primary, its link and a replica.
        assert len(private_redis.leftovers()) >= 2
        raise RuntimeError("the lab broke half-way")

    monkeypatch.setattr(lab, "_write_until_kill", broken)
    with pytest.raises(RuntimeError, match="half-way"):
        lab.run_redis_durability(records=20, kill_after_s=0.3)
    assert calls == [1]
    assert private_redis.leftovers() == ()


def test_bad_parameters_are_refused_before_any_server_starts():
    with pytest.raises(ValueError, match='"lag_ms" must be in'):
        lab.run_redis_durability(lag_ms=-1.0)


def test_restart_keeps_the_aof_and_the_port():
    with private_servers() as servers:
        s = servers.start(appendonly=True, appendfsync="always")
        port = s.port
        with s.client() as c:
            c.set("k", "v")
        s.kill()
        assert not s.alive()
        s = servers.restart(s)
        assert s.port == port
        with s.client() as c:
            assert c.get("k") == b"v"
        root = servers.root
    assert not root.exists()


def test_a_server_dies_with_the_process_that_started_it(tmp_path: Path):
    # The lab killed with SIGKILL (no finally, no atexit): PR_SET_PDEATHSIG ends its servers.
    script = textwrap.dedent(
        """
        import sys, time
        from labs.stack.private_redis import PrivateServers
        s = PrivateServers().start()
        print(s.proc.pid, flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    try:
        server_pid = int(proc.stdout.readline())
        assert private_redis.leftovers()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    deadline = time.monotonic() + 5
    while private_redis.leftovers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert private_redis.leftovers() == (), f"redis-server {server_pid} outlived its lab"


def test_leftovers_name_a_private_server():
    lines = Leftovers("redis://x", "y", private_redis=("pid 1 in /tmp/x",)).lines()
    assert lines == ["private redis-server (a lab's) pid 1 in /tmp/x still running"]


def test_the_link_delays_both_ways_and_a_cut_drops_what_is_in_flight():
    with private_servers() as servers:
        s = servers.start()
        link = LagLink(s.port, 80.0)
        try:
            c = s.client()
            c.connection_pool.connection_kwargs["port"] = link.port
            t = time.monotonic()
            assert c.ping()
            assert time.monotonic() - t >= 0.16  # 80 ms there, 80 ms back
            assert min(link.lags_ms()) >= 80.0
            conn = c.connection_pool.get_connection()
            conn.send_command("SET", "in-flight", "1")
            time.sleep(0.02)
            assert link.in_flight() > 0
            link.cut()
            with s.client() as direct:  # the server never got the command
                assert direct.get("in-flight") is None
            c.close()
        finally:
            link.cut()

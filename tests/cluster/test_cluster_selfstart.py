"""A lab run with no cluster running starts one -- and stops every node it started, also when
the run fails half-way through its fault schedule (here: while the followers are frozen)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from labs.stack import cluster, config
from labs.stack.probe import free_ports

pytestmark = pytest.mark.brokers


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_failing_run_stops_the_cluster_it_started(tmp_path, monkeypatch):
    from labs import durability

    monkeypatch.setenv("COURSE_STACK_DIR", str(tmp_path / "stack"))
    monkeypatch.setenv("COURSE_CLUSTER_PORTS", ",".join(map(str, free_ports(4))))
    monkeypatch.setenv("COURSE_CACHE_DIR", str(config.cache_dir()))
    assert all(n.pid() is None for n in cluster.nodes())
    seen: dict[str, int] = {}
    real_send, real_freeze, frozen = durability._Lane.send, cluster.freeze, threading.Event()

    def freeze(name, *args, **kwargs):
        pid = real_freeze(name, *args, **kwargs)
        frozen.set()
        return pid

    def send(self, i, key, t0):
        seen.update({n.name: n.pid() for n in cluster.nodes() if n.pid() is not None})
        # The first send once a follower is frozen (3 s in, or later when sends lag behind
        # on a busy machine): the leader acknowledges alone.
        if frozen.is_set():
            assert {n.state() for n in cluster.brokers()} == {"running", "frozen"}
            raise RuntimeError("boom")
        return real_send(self, i, key, t0)

    monkeypatch.setattr(durability._Lane, "send", send)
    monkeypatch.setattr(cluster, "freeze", freeze)
    t0 = time.monotonic()
    try:
        with pytest.raises(RuntimeError, match="boom"):
            durability.run_durability(acks=1, schedule="frozen-followers")
        assert sorted(seen) == sorted(n.name for n in cluster.nodes())
        assert all(_gone(pid) for pid in seen.values()), "a node is still running"
        assert all(n.state() == "stopped" for n in cluster.nodes())
        assert time.monotonic() - t0 < 120
    finally:
        cluster.down()  # in case the assertion above failed

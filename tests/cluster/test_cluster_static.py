"""The cluster's static parts, checked without starting anything: the compose profile
"cluster" (official image, pinned version, loopback-only ports, healthchecks, one cluster
id, a controller of its own), the native nodes' properties, and the fault schedules."""

from __future__ import annotations

import pytest
import yaml

from labs.stack import cluster, config
from sim.core.faults import Fault
from sim.course.durability import FROZEN_FOLLOWERS, LEADER_KILL, schedule_of

NODES = ("kafka-controller", "kafka-1", "kafka-2", "kafka-3")


def _services() -> dict:
    return yaml.safe_load((config.PROJECT_ROOT / "docker-compose.yml").read_text())["services"]


def test_compose_cluster_profile_has_a_controller_and_three_brokers():
    services = _services()
    cluster_services = [k for k, v in services.items() if "cluster" in v.get("profiles", ())]
    assert sorted(cluster_services) == sorted(NODES)
    assert "profiles" not in services["kafka"] and "profiles" not in services["redis"]
    envs = {name: services[name]["environment"] for name in NODES}
    assert envs["kafka-controller"]["KAFKA_PROCESS_ROLES"] == "controller"
    assert {envs[f"kafka-{i}"]["KAFKA_PROCESS_ROLES"] for i in (1, 2, 3)} == {"broker"}
    assert sorted(int(e["KAFKA_NODE_ID"]) for e in envs.values()) == [0, 1, 2, 3]
    assert len({e["CLUSTER_ID"] for e in envs.values()}) == 1
    assert {e["KAFKA_CONTROLLER_QUORUM_VOTERS"] for e in envs.values()} == {
        "0@kafka-controller:19190"
    }
    for i in (1, 2, 3):
        env = envs[f"kafka-{i}"]
        assert int(env["KAFKA_DEFAULT_REPLICATION_FACTOR"]) == 3
        assert int(env["KAFKA_MIN_INSYNC_REPLICAS"]) == 2
        assert int(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == 3
        assert str(env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"]) == "false"
        assert int(env["KAFKA_REPLICA_LAG_TIME_MAX_MS"]) == cluster.REPLICA_LAG_TIME_MAX_MS
        assert int(env["KAFKA_BROKER_SESSION_TIMEOUT_MS"]) == cluster.BROKER_SESSION_TIMEOUT_MS
        # clients on the host come back through the published loopback port
        assert (
            f"EXTERNAL://127.0.0.1:{cluster.DEFAULT_PORTS[i]}" in env["KAFKA_ADVERTISED_LISTENERS"]
        )


def test_compose_cluster_uses_the_pinned_image_loopback_ports_and_healthchecks():
    services = _services()
    for name, port in zip(NODES, cluster.DEFAULT_PORTS, strict=True):
        svc = services[name]
        assert svc["image"] == f"apache/kafka:{config.KAFKA_VERSION}"
        assert svc["ports"] == [f"127.0.0.1:{port}:{port}"]
        test = svc["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL") and "/opt/kafka/bin/" in test[1]
    for i in (1, 2, 3):
        assert services[f"kafka-{i}"]["depends_on"]["kafka-controller"]["condition"] == (
            "service_healthy"
        )


def test_native_nodes_bind_loopback_only_and_share_one_static_quorum(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_STACK_DIR", str(tmp_path))
    monkeypatch.delenv("COURSE_CLUSTER_PORTS", raising=False)
    voters = set()
    for n in cluster.nodes():
        props = dict(
            line.split("=", 1)
            for line in cluster.server_properties(n).splitlines()
            if line and not line.startswith("#")
        )
        for key in ("listeners", "advertised.listeners"):
            for listener in props.get(key, "").split(","):
                assert not listener or "//127.0.0.1:" in listener, (n.name, listener)
        assert props["process.roles"] == n.role
        assert props["node.id"] == str(n.node_id)
        voters.add(props["controller.quorum.voters"])
        assert str(tmp_path / "cluster" / n.name) in props["log.dirs"]
        if n.role == "broker":
            assert props["min.insync.replicas"] == "2"
            assert props["default.replication.factor"] == "3"
            assert props["unclean.leader.election.enable"] == "false"
    assert voters == {f"0@127.0.0.1:{cluster.DEFAULT_PORTS[0]}"}


def test_cluster_ports_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("COURSE_CLUSTER_PORTS", "21000,21001,21002,21003")
    assert cluster.bootstrap_servers() == "127.0.0.1:21001,127.0.0.1:21002,127.0.0.1:21003"
    monkeypatch.setenv("COURSE_CLUSTER_PORTS", "21000,21001")
    with pytest.raises(ValueError, match="COURSE_CLUSTER_PORTS"):
        cluster.ports()


def test_fault_schedules_are_validated_data():
    assert schedule_of("leader-kill") == LEADER_KILL
    assert [f.kind for f in FROZEN_FOLLOWERS] == ["freeze-followers", "kill-leader", "restart-all"]
    freeze, kill, _ = FROZEN_FOLLOWERS
    # the leader dies while its followers are frozen, and they thaw before being fenced
    assert freeze.start_s < kill.start_s < freeze.end_s
    assert freeze.duration_s * 1000 < cluster.BROKER_SESSION_TIMEOUT_MS
    with pytest.raises(ValueError, match='"kind"'):
        Fault("crash", "partition:0", 1.0)
    with pytest.raises(ValueError, match='"target"'):
        Fault("restart-all", "partition:0", 1.0)
    with pytest.raises(ValueError, match='"schedule"'):
        schedule_of("nope")


def test_up_cluster_without_java_says_how_to_install_it(tmp_path):
    import os
    import shutil
    import subprocess
    import sys

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for prog in ("mvn",):  # everything the stack uses, except java
        if shutil.which(prog):
            (bin_dir / prog).symlink_to(shutil.which(prog))
    env = dict(os.environ, PATH=str(bin_dir), COURSE_STACK_DIR=str(tmp_path / "stack"))
    out = subprocess.run(
        [sys.executable, "-m", "labs.stack", "up", "--cluster"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=config.PROJECT_ROOT,
    )
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("error: java not found") and "openjdk" in out.stderr
    assert not (tmp_path / "stack" / "cluster" / "controller" / "controller.pid").exists()

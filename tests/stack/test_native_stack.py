"""The native stack for real: a second Redis and Kafka on free ports in a scratch folder,
driven through the command line as a learner would. Needs java, redis-server and Maven (or
the cached jars); `make test` installs them. Nothing here is skipped when they are missing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from labs.stack import config
from labs.stack.probe import free_ports

pytestmark = pytest.mark.brokers


@pytest.fixture
def stack_env(tmp_path):
    """Environment for a private stack: own folder, own ports, the shared jar cache."""
    redis_port, kafka_port, ctl_port = free_ports(3)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", "COURSE_STACK")
    }
    env.update(
        COURSE_STACK="native",
        COURSE_STACK_DIR=str(tmp_path / "stack"),
        COURSE_REDIS_PORT=str(redis_port),
        COURSE_KAFKA_PORT=str(kafka_port),
        COURSE_CONTROLLER_PORT=str(ctl_port),
        COURSE_CACHE_DIR=str(config.cache_dir()),
    )
    yield env
    stack(env, "down", "--purge")


def stack(env: dict, *args: str, timeout: float = 150) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "labs.stack", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=config.PROJECT_ROOT,
    )


def _pids(env: dict) -> dict[str, int]:
    root = Path(env["COURSE_STACK_DIR"])
    return {name: int((root / name / f"{name}.pid").read_text()) for name in ("redis", "kafka")}


def _listening_addresses(pid: int) -> set[str]:
    """Local addresses of the TCP sockets ``pid`` listens on (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == "0A" and inode in inodes:  # 0A = LISTEN
                found.add(_decode(local, v6))
    return found


def _decode(hex_addr: str, v6: bool) -> str:
    host, port = hex_addr.split(":")
    raw = bytes.fromhex(host)
    if v6:  # four little-endian 32-bit words
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
        return f"[{socket.inet_ntop(socket.AF_INET6, raw)}]:{int(port, 16)}"
    return f"{socket.inet_ntoa(raw[::-1])}:{int(port, 16)}"


def test_up_status_roundtrip_up_again_down(stack_env):
    first = stack(stack_env, "up")
    assert first.returncode == 0, first.stderr
    assert "version 7." in first.stdout and f"version {config.KAFKA_VERSION}" in first.stdout
    pids = _pids(stack_env)

    status = stack(stack_env, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count(" up, version ") == 2

    # a message through each broker of this stack
    probe = (
        "from labs.stack.smoke import roundtrip; r = roundtrip('ping-1');"
        "assert r.redis_receivers == 1 and r.redis_payload == 'ping-1', r;"
        "assert r.kafka_payload == 'ping-1' and r.kafka_offset == 0, r; print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=stack_env, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "ok", out.stderr

    # reset deletes what the course created (by name prefix), and nothing else
    make = (
        "import redis; from kafka.admin import KafkaAdminClient, NewTopic;"
        "from labs.stack import endpoints; ep = endpoints();"
        "r = redis.Redis.from_url(ep.redis_url); r.set('course:x', 1); r.set('mine', 1);"
        "r.xadd('course:stream', {'a': 1});"
        "a = KafkaAdminClient(bootstrap_servers=ep.kafka_bootstrap_servers);"
        "a.create_topics([NewTopic('course-reset-me', 1, 1), NewTopic('mine', 1, 1)]);"
        "print(sorted(t for t in a.list_topics() if not t.startswith('__')), sorted(r.keys()))"
    )
    before = _python(stack_env, make)
    assert before == "['course-reset-me', 'mine'] [b'course:stream', b'course:x', b'mine']"

    # leftovers lists every course name by kind -- and nothing else
    _python(
        stack_env,
        "from kafka import KafkaConsumer, TopicPartition; from kafka.structs import "
        "OffsetAndMetadata; from labs.stack import endpoints; c = KafkaConsumer("
        "bootstrap_servers=endpoints().kafka_bootstrap_servers, group_id='course-left-group',"
        "enable_auto_commit=False); tp = TopicPartition('course-reset-me', 0); c.assign([tp]);"
        "c.commit({tp: OffsetAndMetadata(0, '', -1)}); c.close()",
    )
    import redis

    sub = redis.Redis(port=int(stack_env["COURSE_REDIS_PORT"]), socket_timeout=10).pubsub()
    try:
        sub.subscribe("course:left-channel", "mine-channel")
        assert sub.get_message(timeout=5)["type"] == "subscribe"
        left = stack(stack_env, "leftovers", timeout=60)
    finally:
        sub.close()
    assert left.returncode == 1, left.stdout + left.stderr
    listed = sorted(x.split(": ", 1)[1] for x in left.stdout.splitlines())
    assert listed == [
        "consumer group course-left-group",
        "key course:stream",
        "key course:x",
        "subscribed channel course:left-channel (1 subscribers)",
        "topic course-reset-me",
    ], left.stdout
    assert "reset" in left.stderr

    reset = stack(stack_env, "reset")
    assert reset.returncode == 0, reset.stderr
    assert "deleted 1 topics, 1 consumer groups, 2 Redis keys" in reset.stdout, reset.stdout
    after = _python(
        stack_env,
        "import redis; from kafka.admin import KafkaAdminClient; from labs.stack import endpoints;"
        "ep = endpoints(); r = redis.Redis.from_url(ep.redis_url);"
        "a = KafkaAdminClient(bootstrap_servers=ep.kafka_bootstrap_servers);"
        "print(sorted(t for t in a.list_topics() if not t.startswith('__')), sorted(r.keys()))",
    )
    assert after == "['mine'] [b'mine']"
    clean = stack(stack_env, "leftovers", timeout=60)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.startswith("no leftovers on redis://127.0.0.1:"), clean.stdout

    again = stack(stack_env, "up")  # harmless: same processes, still healthy
    assert again.returncode == 0, again.stderr
    assert _pids(stack_env) == pids

    for name, pid in pids.items():
        addresses = _listening_addresses(pid)
        assert addresses, f"{name} listens nowhere?"
        loopback = ("127.0.0.1:", "[::1]:", "[::ffff:127.0.0.1]:")
        assert all(a.startswith(loopback) for a in addresses), (name, addresses)

    down = stack(stack_env, "down")
    assert down.returncode == 0 and "stopped kafka, redis" in down.stdout
    for pid in pids.values():
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid)
    assert stack(stack_env, "status").returncode == 1


def _python(env: dict, code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


@pytest.mark.parametrize("which", ["COURSE_REDIS_PORT", "COURSE_KAFKA_PORT"])
def test_a_taken_port_gives_a_clear_error_and_starts_nothing(stack_env, which):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(stack_env[which])))
        squatter.listen()
        out = stack(stack_env, "up", timeout=60)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert f"port 127.0.0.1:{stack_env[which]} is already in use" in out.stderr
    assert which in out.stderr  # says how to pick another port
    assert not (Path(stack_env["COURSE_STACK_DIR"]) / "redis" / "redis.pid").exists()


def _path_without(tmp_path: Path, missing: str) -> str:
    """A PATH holding links to the programs the stack uses, except ``missing``."""
    bin_dir = tmp_path / f"bin-without-{missing}"
    bin_dir.mkdir()
    for prog in ("java", "mvn", "redis-server", "docker"):
        real = subprocess.run(["which", prog], capture_output=True, text=True).stdout.strip()
        if prog != missing and real:
            (bin_dir / prog).symlink_to(real)
    return str(bin_dir)


@pytest.mark.parametrize(
    "missing, words",
    [("java", "apt-get install -y openjdk-17"), ("redis-server", "apt-get install -y redis")],
)
def test_a_missing_program_gives_its_install_line(stack_env, tmp_path, missing, words):
    env = dict(stack_env, PATH=_path_without(tmp_path, missing))
    out = stack(env, "up", timeout=60)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith(f"error: {missing} not found")
    assert words in out.stderr and "brew install" in out.stderr and "conda" in out.stderr


def test_external_brokers_start_nothing(stack_env, tmp_path):
    """With REDIS_URL and KAFKA_BOOTSTRAP_SERVERS set, `up` only checks them."""
    ep = config.endpoints()  # the session's brokers, started by `make test`
    env = dict(
        stack_env, REDIS_URL=ep.redis_url, KAFKA_BOOTSTRAP_SERVERS=ep.kafka_bootstrap_servers
    )
    out = stack(env, "up", timeout=60)
    assert out.returncode == 0, out.stderr
    assert "brokers (external)" in out.stdout
    assert not Path(env["COURSE_STACK_DIR"]).exists()


def test_a_process_is_ours_by_its_folder_or_its_command_line(tmp_path):
    """A starting JVM may chdir out of its folder for a moment (hsperfdata): its command line
    still names files under the folder, so the stack never mistakes it for gone."""
    from labs.stack import native

    home = tmp_path / "node"
    home.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cases = {
        "in its folder": (home, ["sleep", "30"], True),
        "elsewhere, config under home": (
            elsewhere,
            [sys.executable, "-c", "import time; time.sleep(30)", str(home / "server.properties")],
            True,
        ),
        "elsewhere, a -D option under home": (
            elsewhere,
            [sys.executable, "-c", "import time; time.sleep(30)", f"-Dlogs.dir={home}"],
            True,
        ),
        "elsewhere, nothing under home": (elsewhere, ["sleep", "30"], False),
    }
    for name, (cwd, cmd, ours) in cases.items():
        proc = subprocess.Popen(cmd, cwd=cwd)
        try:
            assert native._is_ours(proc.pid, home) is ours, name
        finally:
            proc.kill()
            proc.wait()
        assert not native._is_ours(proc.pid, home), f"{name}: gone"

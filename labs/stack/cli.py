"""The stack's command line: ``python -m labs.stack up|down|status|logs|reset|leftovers|exec``.

Brokers come from one of three places, chosen in this order:

1. **external** -- ``REDIS_URL`` and ``KAFKA_BOOTSTRAP_SERVERS`` are set: nothing is
   started; ``up`` and ``status`` only check that both answer.
2. **docker** -- a Docker engine answers: ``docker compose`` with ``docker-compose.yml``.
3. **native** -- a local ``redis-server`` and Kafka from Maven Central jars on the local JDK.

``COURSE_STACK=native`` or ``COURSE_STACK=docker`` forces a choice. Every failure ends with
a one-line reason and what to do, never a traceback.

``reset`` deletes the names of one learner (``COURSE_LEARNER``, else the user name; see
:func:`labs.stack.config.learner`) so that on a shared workshop cluster nobody else's names
go; ``reset --all-learners`` deletes every course name.

``up --cluster``, ``down --cluster`` and ``status --cluster [--topic NAME]`` do the same for
the durability lab's native 3-broker Kafka cluster (:mod:`labs.stack.cluster`): a KRaft
controller and three brokers on 127.0.0.1:19190-19193; ``status`` shows each node and, for a
topic, the leader, replicas and ISR of every partition.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from labs.stack import config, docker, native
from labs.stack.prereqs import StackError
from labs.stack.probe import Health, kafka_health, redis_health

MODES = ("external", "docker", "native")


def _mode_file():
    return config.stack_dir() / "mode"


def choose_mode() -> str:
    """Which of external / docker / native provides the brokers now."""
    if config.endpoints().external:
        return "external"
    forced = os.environ.get("COURSE_STACK", "").strip().lower()
    if forced:
        if forced not in ("native", "docker"):
            raise StackError(f'"COURSE_STACK" must be "native" or "docker", got {forced!r}.')
        return forced
    try:
        recorded = _mode_file().read_text().strip()
    except OSError:
        recorded = ""
    if recorded in ("native", "docker"):
        return recorded
    return "docker" if docker.engine_answers() else "native"


def status(mode: str | None = None) -> list[Health]:
    mode = mode or choose_mode()
    ep = config.endpoints()
    exact = native.kafka_version() if mode == "native" else ""
    if mode == "docker":
        exact = config.KAFKA_VERSION
    return [redis_health(ep.redis_url), kafka_health(ep.kafka_bootstrap_servers, 5.0, exact)]


def up() -> tuple[str, list[Health]]:
    mode = choose_mode()
    t0 = time.monotonic()
    if mode == "native":
        _mode_file().parent.mkdir(parents=True, exist_ok=True)
        _mode_file().write_text("native")
        health = native.up()
    elif mode == "docker":
        _mode_file().parent.mkdir(parents=True, exist_ok=True)
        _mode_file().write_text("docker")
        docker.up()
        health = status(mode)
    else:
        health = status(mode)
    bad = [h for h in health if not h.reachable]
    if bad:
        what = "; ".join(f"{h.broker} at {h.address}: {h.detail}" for h in bad)
        hint = (
            "check REDIS_URL / KAFKA_BOOTSTRAP_SERVERS"
            if mode == "external"
            else "see `python -m labs.stack logs`"
        )
        raise StackError(f"not ready after {time.monotonic() - t0:.0f} s: {what}; {hint}")
    return mode, health


def down(purge: bool = False) -> str:
    mode = choose_mode()
    if mode == "native":
        stopped = native.down(purge)
        msg = f"stopped {', '.join(stopped)}" if stopped else "nothing of the stack was running"
    elif mode == "docker":
        docker.down(purge)
        msg = "docker compose down"
    else:
        return "external brokers: nothing to stop"
    if purge:
        msg += f"; removed {config.stack_dir()}"
    else:
        _mode_file().unlink(missing_ok=True)
    return msg


def running(mode: str) -> bool:
    if mode == "native":
        return all(pid is not None for pid in native.running().values())
    if mode == "docker":
        return docker.running()
    return True


def _selected(name, learners: set[str] | None) -> bool:
    """Whether ``reset`` deletes ``name``: a course name of one of ``learners`` or of nobody;
    with ``learners=None`` (every learner) any course name, shared ones included."""
    if learners is None:
        text = name.decode(errors="replace") if isinstance(name, bytes) else name
        return text.startswith((config.KAFKA_PREFIX, config.REDIS_PREFIX))
    who = config.owner(name)
    return who is not None and (who == "" or who in learners)


def reset(
    timeout_s: float = 10.0, *, learners: list[str] | None = None, all_learners: bool = False
) -> str:
    """Delete the topics, consumer groups and keys of ``learners`` (default: this learner,
    :func:`labs.stack.config.learner`) and the course names of nobody; with
    ``all_learners`` every name with the course's prefixes (an instructor's reset)."""
    import redis
    from kafka import KafkaAdminClient

    chosen = None if all_learners else {config.sanitize_learner(w) for w in learners or []}
    if chosen is not None and not chosen:
        chosen = {config.learner()}
    ep = config.endpoints()
    r = redis.Redis.from_url(ep.redis_url, socket_timeout=timeout_s, socket_connect_timeout=5)
    try:
        keys = [
            k
            for k in r.scan_iter(match=f"{config.REDIS_PREFIX}*", count=1000)
            if _selected(k, chosen)
        ]
        for i in range(0, len(keys), 500):
            r.unlink(*keys[i : i + 500])
    except redis.RedisError as exc:
        raise StackError(
            f"Redis at {ep.redis_url} did not answer ({type(exc).__name__}); "
            "start the brokers with: python -m labs.stack up"
        ) from exc
    finally:
        r.close()
    ms = int(timeout_s * 1000)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=ep.kafka_bootstrap_servers,
            request_timeout_ms=ms,
        )
    except Exception as exc:  # kafka-python raises its own errors and plain ones here
        raise StackError(
            f"Kafka at {ep.kafka_bootstrap_servers} did not answer ({type(exc).__name__}); "
            "start the brokers with: python -m labs.stack up"
        ) from exc
    try:
        topics = [t for t in admin.list_topics() if _selected(t, chosen)]
        groups = [g["group_id"] for g in admin.list_groups() if _selected(g["group_id"], chosen)]
        if groups:
            admin.delete_groups(groups)
        if topics:
            admin.delete_topics(topics, timeout_ms=ms)
    finally:
        admin.close()
    whose = "every learner" if chosen is None else ", ".join(sorted(chosen))
    return (
        f"deleted {len(topics)} topics, {len(groups)} consumer groups, {len(keys)} Redis keys "
        f"({whose})"
    )


def _print_health(mode: str, health: list[Health]) -> None:
    print(f"brokers ({mode}):")
    for h in health:
        print("  " + h.line())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labs.stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start Redis and Kafka (idempotent) and wait until ready")
    p_down = sub.add_parser("down", help="stop what the stack started")
    p_down.add_argument("--purge", action="store_true", help="also delete data and logs")
    p_status = sub.add_parser("status", help="reachability and versions of both brokers")
    for p in (p_up, p_down, p_status):
        p.add_argument(
            "--cluster",
            action="store_true",
            help="the 3-broker Kafka cluster (+ KRaft controller) of the durability lab",
        )
    p_status.add_argument(
        "--topic", metavar="NAME", help="with --cluster: leader, replicas and ISR of a topic"
    )
    p_logs = sub.add_parser("logs", help="the end of a broker's log")
    p_logs.add_argument("broker", nargs="?", choices=("redis", "kafka"), default="kafka")
    p_logs.add_argument("-n", "--lines", type=int, default=40)
    p_reset = sub.add_parser(
        "reset",
        help="delete this learner's topics, groups, streams and keys (COURSE_LEARNER, "
        "else the user name) and course names of nobody",
    )
    p_reset.add_argument(
        "--learner", action="append", metavar="NAME", help="reset this learner instead (repeat)"
    )
    p_reset.add_argument(
        "--all-learners",
        action="store_true",
        help="every course name on the brokers, of every learner (instructor)",
    )
    sub.add_parser(
        "leftovers",
        help="list the course's topics, groups, keys, subscribed channels and cluster nodes "
        "of every learner still there; exit 1 if any",
    )
    p_exec = sub.add_parser(
        "exec", help="bring brokers up, run a command, bring down what was started"
    )
    p_exec.add_argument("cmd", nargs=argparse.REMAINDER, help="-- command and arguments")
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch_cluster(args: argparse.Namespace) -> int:
    from labs.stack import cluster

    if args.command == "up":
        t0 = time.monotonic()
        cluster.up()
        print("kafka cluster (native):")
        for line in cluster.status_lines():
            print("  " + line)
        print(f"bootstrap servers: {cluster.bootstrap_servers()}")
        print(f"ready in {time.monotonic() - t0:.1f} s")
        return 0
    if args.command == "down":
        stopped = cluster.down(args.purge)
        print(f"stopped {', '.join(stopped)}" if stopped else "no node of the cluster was running")
        return 0
    print("kafka cluster (native):")
    for line in cluster.status_lines():
        print("  " + line)
    if args.topic:
        for partition in cluster.describe(args.topic):
            print("  " + partition.line())
    return 0 if cluster.running() else 1


def _dispatch(args: argparse.Namespace) -> int:
    if getattr(args, "cluster", False):
        return _dispatch_cluster(args)
    if getattr(args, "topic", None):
        raise StackError("--topic needs --cluster: python -m labs.stack status --cluster --topic T")
    if args.command == "up":
        t0 = time.monotonic()
        mode, health = up()
        _print_health(mode, health)
        print(f"ready in {time.monotonic() - t0:.1f} s")
        return 0
    if args.command == "down":
        print(down(args.purge))
        return 0
    if args.command == "status":
        mode = choose_mode()
        health = status(mode)
        _print_health(mode, health)
        if mode == "native":
            for name, pid in native.running().items():
                print(f"  {name} pid: {pid if pid else 'not started by the stack'}")
        return 0 if all(h.reachable for h in health) else 1
    if args.command == "logs":
        mode = choose_mode()
        if mode == "docker":
            print(docker.logs(args.broker, args.lines))
        elif mode == "native":
            path = native.log_files()[args.broker]
            if not path.exists():
                raise StackError(f"no log yet at {path}; start the stack with `up`")
            print(f"== {path}")
            print("\n".join(path.read_text(errors="replace").splitlines()[-args.lines :]))
        else:
            print("external brokers: their logs are wherever they run")
        return 0
    if args.command == "reset":
        print(reset(learners=args.learner, all_learners=args.all_learners))
        return 0
    if args.command == "leftovers":
        from labs.stack import leftovers

        found = leftovers.find()
        for line in found.lines():
            print(line)
        if found:
            print(
                f"{len(found.lines())} leftovers of the course; remove them with: "
                "python -m labs.stack reset --all-learners (and down --cluster)",
                file=sys.stderr,
            )
            return 1
        print(f"no leftovers on {found.redis_url} and {found.kafka_bootstrap_servers}")
        return 0
    # exec
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise StackError("exec needs a command: python -m labs.stack exec -- pytest")
    mode = choose_mode()
    was_running = running(mode) and all(h.reachable for h in status(mode))
    mode, health = up()
    _print_health(mode, health)
    try:
        return subprocess.call(cmd)
    finally:
        if not was_running:
            print(down())

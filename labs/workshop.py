"""A workshop on one cluster: many learners run every lab and twin at once.

``python -m labs workshop --learners N [--json]`` starts N processes, each with its own
``COURSE_LEARNER`` (so its names never meet another's, see :mod:`labs.stack.config`), all
against the same Redis and Kafka. Each learner runs every lab on the single brokers and
every twin but :data:`SOLO` one after the other -- learner ``i`` starts at the ``i``-th, so
the learners are spread over the labs -- and checks every lab's lesson with the same checks
as the lab tests (:mod:`labs.lessons`); a twin counts as held when simulator and real
broker agree. The labs whose lessons need a publisher faster than its readers
(:data:`RATE_LABS`) take turns: at most one learner per two cores runs one at a time, as if
each learner's clients had their own laptop's core (the brokers are shared either way); the
wait is reported. At the
end the command lists the course names of these learners still on the brokers (the labs
delete theirs, also on failure), then deletes them.

With ``--deal`` the items are dealt out instead: learner ``i`` runs items ``i``, ``i + N``,
``i + 2N`` ... of the list, so every lab and twin runs once, beside N - 1 other learners'
items, in about 1/N of the time -- a quick rehearsal, and what ``make test`` runs (one
learner's labs and twins, one after the other, take over two minutes, alone or beside
others).

Without ``--json`` progress goes to stderr -- one line per finished lab, above a bar that
counts the finished items of all learners (:mod:`sim.progress`; the learners show none) --
and a summary to stdout; ``--json`` prints one JSON object: ``learners``, ``passed`` and
``failed`` (learner names: every lab's lesson held, or not), ``dealt``, ``twins_disagreed``,
``leftover_names``, ``rate_slots``, ``wall_s`` and per-learner ``details`` (each outcome
with ``seconds`` and ``waited_s``, the wait for a rate-lab slot). Every learner is bounded
by ``--budget-s``: one still running then is stopped and counted as failed. Exit status 0
when every learner passed and nothing was left over, 1 otherwise, 3 when a broker is
unreachable.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from labs.clients import BrokerUnavailable, require_brokers
from labs.experiments import EXPERIMENTS
from labs.stack import config
from sim.progress import Task, silenced, task, write

#: Twins a workshop leaves out: the throughput twin measures where this machine's clients
#: saturate (3 minutes of load up to that point); N learners at once would measure each
#: other. Each learner can run it alone afterwards (``python -m labs twin throughput``).
SOLO = ("throughput",)
#: The labs and twins each learner runs, in the order of their declarations (rotated per
#: learner): every declared lab on the shared brokers (not the durability lab, which needs
#: a 3-broker cluster of its own), every declared twin.
LABS = tuple(name for name, e in EXPERIMENTS.items() if not e.needs_cluster)
TWINS = tuple(
    t for t in dict.fromkeys(t for e in EXPERIMENTS.values() for t in e.twins) if t not in SOLO
)
#: Labs whose lessons need the publisher to keep up a rate above its readers' (a backlog,
#: a hot partition's lag, what went out while a reader was away). A learner at a real
#: workshop runs its clients on its own laptop; here every learner shares this machine's
#: cores, so at most :func:`rate_slots` learners run one of these at a time (the others
#: meanwhile run the count labs and the twins). The lessons are judged on what the run
#: achieved either way (:mod:`labs.lessons`). The throughput lab loads each configuration
#: up to saturation, so it takes a slot too (and runs its short set, ``Experiment.short_run``).
RATE_LABS = ("loss", "backpressure", "hot_partitions", "hybrid", "throughput")
#: Environment variable naming the directory of the rate-lab slot lock files.
SLOTS_ENV = "COURSE_WORKSHOP_SLOTS"
#: The longest a learner waits for a rate-lab slot before running the lab anyway.
SLOT_WAIT_MAX_S = 600.0
ITEMS = tuple(f"lab:{n}" for n in LABS) + tuple(f"twin:{n}" for n in TWINS)
MAX_LEARNERS = 64
EXIT_FAILED = 1
EXIT_BROKERS = 3


@dataclass(frozen=True)
class Outcome:
    """One lab or twin of one learner: did its lesson hold, and if not, why."""

    item: str
    held: bool
    failures: tuple[str, ...] = ()
    seconds: float = 0.0
    waited_s: float = 0.0  # waiting for a rate-lab slot (not in ``seconds``)


@dataclass
class Learner:
    """One learner's process and what it reported so far."""

    name: str
    index: int
    #: The labs and twins this learner runs, in its order.
    items: tuple[str, ...] = ITEMS
    outcomes: list[Outcome] = field(default_factory=list)
    exit_code: int | None = None
    timed_out: bool = False
    seconds: float = 0.0
    stderr_tail: list[str] = field(default_factory=list)

    @property
    def labs_held(self) -> bool:
        labs = [o for o in self.outcomes if o.item.startswith("lab:")]
        return (
            len(labs) == sum(item.startswith("lab:") for item in self.items)
            and all(o.held for o in labs)
            and not self.timed_out
            and self.exit_code == 0
        )

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "passed": self.labs_held,
            "seconds": round(self.seconds, 1),
            "timed_out": self.timed_out,
            "exit_code": self.exit_code,
            "items": list(self.items),
            "outcomes": [asdict(o) for o in self.outcomes],
            "stderr_tail": self.stderr_tail,
        }


def learner_names(count: int, base: str | None = None) -> list[str]:
    """``count`` learner names derived from ``base`` (default: this learner)."""
    stem = (base or config.learner())[: config.LEARNER_MAX - 6].strip("-")
    return [config.sanitize_learner(f"{stem}-ws{i}") for i in range(1, count + 1)]


def items_of(index: int, count: int, *, deal: bool = False) -> tuple[str, ...]:
    """Learner ``index``'s items among ``count`` learners: every item, starting at the
    ``index``-th (so the learners are spread over the labs), or, dealt, every
    ``count``-th item from the ``index``-th.

    >>> items_of(1, 3, deal=True) == ITEMS[1::3]
    True
    >>> sorted(items_of(2, 3)) == sorted(ITEMS)
    True
    """
    if deal:
        return ITEMS[index::count]
    start = index % len(ITEMS)
    return ITEMS[start:] + ITEMS[:start]


def rate_slots() -> int:
    """How many learners run a rate lab at once: one per two cores, at least one."""
    return max(1, (os.cpu_count() or 1) // 2)


@contextlib.contextmanager
def _rate_slot(item: str):
    """Hold one of the workshop's rate-lab slots (an exclusive ``flock`` on a slot file in
    the directory named by ``COURSE_WORKSHOP_SLOTS``) while a rate lab runs; yields the
    seconds waited. Outside a workshop, or for other items, it holds nothing."""
    folder = os.environ.get(SLOTS_ENV)
    if not folder or item.split(":", 1)[1] not in RATE_LABS or not item.startswith("lab:"):
        yield 0.0
        return
    t0 = time.monotonic()
    files = [open(path, "a") for path in sorted(Path(folder).glob("slot-*"))]  # noqa: SIM115
    held = None
    try:
        while held is None and time.monotonic() - t0 < SLOT_WAIT_MAX_S:
            for f in files:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                held = f
                break
            else:
                time.sleep(0.05)
        yield time.monotonic() - t0
    finally:
        if held is not None:
            fcntl.flock(held, fcntl.LOCK_UN)
        for f in files:
            f.close()


# -- one learner (the child process) ------------------------------------------------------
def run_item(item: str) -> Outcome:
    """Run one lab (checking its lesson) or twin (checking agreement); never raises."""
    with _rate_slot(item) as waited_s:
        outcome = _run_item(item)
    return replace(outcome, waited_s=round(waited_s, 2))


def _run_item(item: str) -> Outcome:
    from labs import lessons, registry
    from labs.twins.registry import twin

    kind, name = item.split(":", 1)
    t0 = time.monotonic()
    try:
        if kind == "lab":
            short = registry.LABS[name].short_run
            failures = lessons.check(name, registry.run(name, seed=0, **short))
        else:
            result = twin(name).run()
            failures = [
                f"{r.metric}: theory {r.theory}, simulator {r.simulator:g}, real {r.real:g} "
                f"({r.tolerance_text()})"
                for r in result.rows
                if not r.agrees
            ]
    except Exception as exc:  # noqa: BLE001 - reported as this item's failure
        failures = [f"{type(exc).__name__}: {exc}".splitlines()[0][:300]]
    return Outcome(item, not failures, tuple(failures), round(time.monotonic() - t0, 2))


def _learner_main(index: int, count: int, deal: bool) -> int:
    """The child: run its items (:func:`items_of`); one JSON line per finished item."""
    for item in items_of(index, count, deal=deal):
        outcome = run_item(item)
        print(json.dumps(asdict(outcome)), flush=True)
    return 0


# -- the workshop (the parent) ------------------------------------------------------------
def _spawn(learner: Learner, slots: str, count: int, deal: bool) -> subprocess.Popen:
    env = dict(os.environ, COURSE_LEARNER=learner.name, PYTHONUNBUFFERED="1", COURSE_PROGRESS="0")
    env[SLOTS_ENV] = slots
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "labs.workshop", "--learner-index", str(learner.index)),
            *("--learners", str(count), *(["--deal"] if deal else [])),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=config.PROJECT_ROOT,
    )


def _read(learner: Learner, proc: subprocess.Popen, progress) -> None:
    for line in proc.stdout:
        try:
            data = json.loads(line)
        except ValueError:
            continue
        outcome = Outcome(
            data["item"],
            data["held"],
            tuple(data["failures"]),
            data.get("seconds", 0.0),
            data.get("waited_s", 0.0),
        )
        learner.outcomes.append(outcome)
        progress(learner, outcome)


def _drain_stderr(learner: Learner, proc: subprocess.Popen) -> None:
    for line in proc.stderr:
        learner.stderr_tail = (learner.stderr_tail + [line.rstrip()])[-5:]


def run_workshop(
    count: int, *, budget_s: float = 1200.0, deal: bool = False, progress=None
) -> dict:
    """Run ``count`` learners at once (each every item, or ``deal``: the items dealt out
    among them); return the report (see the module docstring)."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_LEARNERS:
        raise ValueError(f'"learners" must be an integer in 1..{MAX_LEARNERS}, got {count!r}.')
    if deal and count > len(ITEMS):
        raise ValueError(f'"learners" must be at most {len(ITEMS)} with deal, got {count}.')
    if not 10 <= budget_s <= 7200:
        raise ValueError(f'"budget_s" must be in 10..7200 seconds, got {budget_s!r}.')
    require_brokers()
    learners = [
        Learner(name, i, items_of(i, count, deal=deal))
        for i, name in enumerate(learner_names(count))
    ]
    t0 = time.monotonic()
    what = f"workshop: {count} learner{'s' * (count > 1)}"
    with task(what, total=sum(len(x.items) for x in learners), unit="items") as shown:
        _run_learners(learners, t0, budget_s, progress, shown, deal)
    names = [learner.name for learner in learners]
    leftover = leftover_names(names)
    if leftover:
        from labs.stack.cli import reset

        reset(learners=names)
    return {
        "learners": count,
        "passed": [x.name for x in learners if x.labs_held],
        "failed": [x.name for x in learners if not x.labs_held],
        "dealt": deal,
        "twins_disagreed": {
            x.name: [o.item for o in x.outcomes if o.item.startswith("twin:") and not o.held]
            for x in learners
            if any(o.item.startswith("twin:") and not o.held for o in x.outcomes)
        },
        "leftover_names": leftover,
        "rate_slots": rate_slots(),
        "wall_s": round(time.monotonic() - t0, 1),
        "details": [x.to_dict() for x in learners],
    }


def _run_learners(
    learners: list[Learner], t0: float, budget_s: float, progress, shown: Task, deal: bool
):
    """Start every learner and wait for all of them (stopping those still running
    ``budget_s`` after ``t0``); each finished item advances ``shown`` and goes to
    ``progress``."""

    def finished(learner: Learner, outcome: Outcome) -> None:
        shown.advance()
        if progress is not None:
            progress(learner, outcome)

    procs, readers = [], []
    slots = tempfile.TemporaryDirectory(prefix="course-workshop-")
    for i in range(rate_slots()):
        Path(slots.name, f"slot-{i}").touch()
    for learner in learners:
        proc = _spawn(learner, slots.name, len(learners), deal)
        procs.append(proc)
        for target in (_read, _drain_stderr):
            args = (learner, proc, finished) if target is _read else (learner, proc)
            th = threading.Thread(target=target, args=args, daemon=True)
            th.start()
            readers.append(th)
    deadline = t0 + budget_s
    for learner, proc in zip(learners, procs, strict=True):
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            learner.timed_out = True
            proc.kill()
            proc.wait()
        learner.exit_code = proc.returncode
        learner.seconds = time.monotonic() - t0
    for th in readers:
        th.join(5.0)
    slots.cleanup()


def leftover_names(learners: Sequence[str]) -> list[str]:
    """Course names (topics, groups, Redis keys) of ``learners`` on the brokers now."""
    import redis
    from kafka import KafkaAdminClient

    wanted = set(learners)
    ep = config.endpoints()
    r = redis.Redis.from_url(ep.redis_url, socket_timeout=10, socket_connect_timeout=5)
    try:
        keys = [
            k.decode()
            for k in r.scan_iter(match=f"{config.REDIS_PREFIX}*", count=1000)
            if config.owner(k) in wanted
        ]
    finally:
        r.close()
    admin = KafkaAdminClient(bootstrap_servers=ep.kafka_bootstrap_servers, request_timeout_ms=10000)
    try:
        topics = [t for t in admin.list_topics() if config.owner(t) in wanted]
        groups = [
            g["group_id"] for g in admin.list_groups() if config.owner(g["group_id"]) in wanted
        ]
    finally:
        admin.close()
    return sorted(set(keys) | {f"topic:{t}" for t in topics} | {f"group:{g}" for g in groups})


def _print_progress(learner: Learner, outcome: Outcome) -> None:
    done = len(learner.outcomes)
    verdict = "held" if outcome.held else "FAILED: " + "; ".join(outcome.failures)[:200]
    seconds = f"{outcome.seconds:.1f} s"
    write(f"[{learner.name} {done}/{len(learner.items)}] {outcome.item} {verdict} ({seconds})")


def summary(report: dict) -> str:
    lines = [
        f"workshop: {report['learners']} learners, {report['wall_s']:.0f} s",
        f"  every lab's lesson held: {len(report['passed'])}/{report['learners']}",
    ]
    for detail in report["details"]:
        bad = [f"{o['item']}" for o in detail["outcomes"] if not o["held"]]
        state = "passed" if detail["passed"] else "FAILED"
        extra = " (stopped: over budget)" if detail["timed_out"] else ""
        ran = f"{len(detail['outcomes'])}/{len(detail['items'])} run"
        lines.append(
            f"  {detail['name']}: {state}{extra}, {ran}"
            + (f"; not held: {', '.join(bad)}" if bad else "")
        )
    lines.append(f"  leftover names: {len(report['leftover_names'])}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["workshop"]:
        args_in = args_in[1:]
    parser = argparse.ArgumentParser(
        prog="python -m labs workshop",
        description="N learners run every lab and twin at once on the same brokers.",
    )
    parser.add_argument("--learners", type=int, default=4, help=f"1..{MAX_LEARNERS} (default 4)")
    parser.add_argument(
        "--budget-s", type=float, default=1200.0, help="seconds per learner, 10..7200"
    )
    parser.add_argument(
        "--deal",
        action="store_true",
        help="deal the labs and twins out among the learners (each runs once; a quick rehearsal)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--learner-index", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(args_in)
    if args.learner_index is not None:
        return _learner_main(args.learner_index, args.learners, args.deal)
    try:
        with silenced(args.json):
            report = run_workshop(
                args.learners,
                budget_s=args.budget_s,
                deal=args.deal,
                progress=None if args.json else _print_progress,
            )
    except ValueError as exc:
        parser.exit(2, f"python -m labs workshop: {exc}\n")
    except BrokerUnavailable as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BROKERS
    print(json.dumps(report, indent=2) if args.json else summary(report))
    return 0 if not report["failed"] and not report["leftover_names"] else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())

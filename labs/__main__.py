"""The labs' command line, built from the experiment declarations (:mod:`labs.experiments`).

``python -m labs list`` shows the labs and their parameters (range, unit, meaning, default);
``python -m labs run NAME [--param value ...] [--seed N] [--json]`` runs one against the
real brokers and prints the checker's table with the settings that decided the outcome
(or, with ``--json``, the result as JSON); ``python -m labs twin ...`` runs a twin (see
:mod:`labs.twins.cli`); ``python -m labs decide EVENTS.yaml`` writes the capstone's decision
record with its drills on the real brokers (:mod:`labs.decide`). A value out of range
exits with status 2 and names the parameter and its range. If a broker is unreachable it
prints one line saying which and how to start them, and exits with status 3.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import redis
from kafka.errors import KafkaError

from labs.clients import START_HINT, BrokerUnavailable, WaitTimeout
from labs.experiments import EXPERIMENTS
from labs.params import SEED, add_param, add_params, given, list_params
from labs.stack.prereqs import StackError
from sim.progress import silenced

EXIT_BROKERS = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m labs", description="Real-broker labs: Redis Pub/Sub, Streams, Kafka."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the labs and their parameters")
    # Handled by labs.twins.main before parsing; listed here for --help.
    commands.add_parser("twin", help="run a lab and its simulator twin, compare (see twin -h)")
    # Handled by labs.workshop.main before parsing; listed here for --help.
    commands.add_parser("workshop", help="N learners run every lab and twin at once (see -h)")
    # Handled by labs.decide.main before parsing; listed here for --help.
    commands.add_parser("decide", help="a decision record with drills on the real brokers")
    run = commands.add_parser("run", help="run one lab against the real brokers")
    labs = run.add_subparsers(dest="lab", required=True, metavar="NAME")
    for lab in EXPERIMENTS.values():
        aliases = [lab.name.replace("_", "-")] if "_" in lab.name else []
        sub = labs.add_parser(lab.name, aliases=aliases, help=lab.summary, description=lab.summary)
        add_params(sub, lab.params)
        add_param(sub, SEED)
        sub.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def list_labs() -> str:
    lines = []
    for lab in EXPERIMENTS.values():
        lines.append(f"{lab.name}: {lab.summary}")
        lines += list_params(lab.params)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["workshop"]:
        from labs.workshop import main as workshop_main

        return workshop_main(argv)
    if argv[:1] == ["decide"]:
        from labs.decide import main as decide_main

        return decide_main(argv)
    if argv[:1] == ["twin"]:
        from labs.twins import main as twin_main

        return twin_main(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        print(list_labs())
        return 0
    lab = EXPERIMENTS[args.lab.replace("-", "_")]
    try:
        seed = SEED.check(getattr(args, "seed", SEED.default))
        params = lab.resolve(**given(args, lab.params))
        with silenced(args.json):  # progress on stderr, but none under --json
            result = lab.run(seed=seed, **params)
    except (BrokerUnavailable, StackError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BROKERS
    except ValueError as exc:
        parser.exit(2, f"python -m labs run {lab.name}: {exc}\n")
    except WaitTimeout as exc:
        print(f"lab {lab.name} gave up: {exc}", file=sys.stderr)
        return 1
    except (KafkaError, redis.RedisError) as exc:
        print(
            f"lab {lab.name} failed talking to a broker ({type(exc).__name__}: {exc}); "
            f"if the brokers are down, {START_HINT}",
            file=sys.stderr,
        )
        return EXIT_BROKERS
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())

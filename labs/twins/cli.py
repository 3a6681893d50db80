"""The twins' command line: ``python -m labs twin NAME [--param value ...] [--json]``.

Runs the twin (calibration, real lab, simulator), prints one table -- theory | simulator |
real broker | difference -- and whether they agree within the tolerances; ``--json`` prints
the whole :class:`~labs.twins.result.TwinResult` as JSON instead. ``python -m labs twin
list`` lists the twins and their parameters, as declared with their experiments
(:mod:`labs.experiments`). Exit status: 0 when simulator and real broker agree, 1 when they
do not (or a lab gave up), 2 for bad parameters, 3 when a broker is unreachable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from labs.clients import BrokerUnavailable, WaitTimeout
from labs.params import SEED, add_param, add_params, given, list_params
from labs.twins.registry import ALIASES, TWINS, resolve, twin
from sim.progress import silenced

EXIT_DISAGREE = 1
EXIT_USAGE = 2
EXIT_BROKERS = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m labs twin",
        description="Run a lab and its simulator twin with the same parameters; compare them "
        "with each other and with the theory.",
    )
    names = parser.add_subparsers(dest="twin", required=True, metavar="NAME")
    names.add_parser("list", help="list the twins and their parameters")
    by_cls: dict[str, list[str]] = {}
    for alias, target in ALIASES.items():
        by_cls.setdefault(target, []).append(alias)
    for name, cls in TWINS.items():
        sub = names.add_parser(
            name, aliases=by_cls.get(name, []), help=cls.summary, description=cls.__doc__
        )
        sub.formatter_class = argparse.RawDescriptionHelpFormatter
        add_params(sub, cls.PARAMS)
        add_param(sub, SEED)
        sub.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def list_twins() -> str:
    lines = []
    for name, cls in TWINS.items():
        aliases = [a for a, t in ALIASES.items() if t == name]
        lines.append(f"{name}{' (' + ', '.join(aliases) + ')' if aliases else ''}: {cls.summary}")
        lines += list_params(cls.PARAMS)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; ``argv`` may start with ``twin`` (as passed on by ``python -m labs``)."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["twin"]:
        args_in = args_in[1:]
    parser = build_parser()
    args = parser.parse_args(args_in)
    if args.twin == "list":
        print(list_twins())
        return 0
    cls = resolve(args.twin)
    try:
        params = given(args, cls.PARAMS) | {"seed": getattr(args, "seed", SEED.default)}
        with silenced(getattr(args, "json", False)):  # no progress under --json
            result = twin(cls.name, **params).run()
    except ValueError as exc:
        parser.exit(EXIT_USAGE, f"python -m labs twin {cls.name}: {exc}\n")
    except BrokerUnavailable as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BROKERS
    except WaitTimeout as exc:
        print(f"twin {cls.name} gave up: {exc}", file=sys.stderr)
        return EXIT_DISAGREE
    print(result.to_json() if args.json else result.table())
    return 0 if result.agrees else EXIT_DISAGREE

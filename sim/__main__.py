"""Headless use: ``python -m sim run SCENARIO.yaml``, ``python -m sim decide EVENTS.yaml``.

``run`` prints the checker's table (with settings and metrics) for a scenario file or a
bundled scenario name, and can save every figure (``--figures DIR``) or write the result
summary as JSON (``--json``). ``list`` shows the bundled scenarios. ``decide`` writes the
capstone's decision record (:mod:`sim.course.decision.record`) for a file of event classes
(:mod:`sim.course.decision.events_file`; the bundled example without one) to ``--out``
(default ``decision-record.md``; ``-`` prints it). A mistake in either file exits with
status 2 and one line naming the field.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SCENARIOS = Path(__file__).parent / "scenarios"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a scenario and print the checker's table")
    r.add_argument("scenario", help="a YAML file or the name of a bundled scenario")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--figures", metavar="DIR", help="save every figure as PNG into DIR")
    r.add_argument("--json", action="store_true", help="print the summary as JSON")
    sub.add_parser("list", help="list the bundled scenarios")
    d = sub.add_parser("decide", help="write a decision record for a file of event classes")
    d.add_argument("events", nargs="?", help="a YAML file of event classes (default: the example)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--out", default="decision-record.md", help="where to write it ('-': print)")
    args = ap.parse_args(argv)

    if args.command == "decide":
        return decide(args.events, seed=args.seed, out=args.out)

    if args.command == "list":
        import yaml

        for path in sorted(SCENARIOS.glob("*.yaml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            print(f"{path.stem:28s} {data.get('description', '').splitlines()[0]}")
        return 0

    from sim.core.engine import load, run

    try:
        scenario = load(args.scenario)
    except (OSError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from sim.progress import silenced, task

    with silenced(args.json), task(f"simulating {scenario.name}"):
        result = run(scenario, seed=args.seed)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        print(result.summary())
    if args.figures:
        from sim.analysis.plots import FIGURES

        out = Path(args.figures)
        out.mkdir(parents=True, exist_ok=True)
        stem = Path(args.scenario).stem
        for name, fn in FIGURES.items():
            path = out / f"{stem}-{name}.png"
            fn(result).savefig(path, dpi=100)
            print(f"saved {path}", file=sys.stderr)
    return 0


def decide(events: str | None, *, seed: int, out: str) -> int:
    """``python -m sim decide``: the decision record of an events file, written to ``out``."""
    from datetime import date

    from sim.course.decision.events_file import EXAMPLE, load
    from sim.course.decision.record import decide as decide_all
    from sim.progress import silenced, task

    try:
        spec = load(events or EXAMPLE)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with silenced(out == "-"), task(f"deciding {len(spec.events)} event classes"):
        record = decide_all(spec, seed=seed, date=date.today().isoformat())
    if out == "-":
        print(record.markdown())
    else:
        path = record.write(out)
        tools = ", ".join(f"{d.spec.event.name}: {d.tool}" for d in record.decisions)
        print(f"wrote {path} ({tools})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

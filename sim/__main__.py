"""Headless use: ``python -m sim run SCENARIO.yaml``.

``run`` prints the checker's table (with settings and metrics) for a scenario file or a
bundled scenario name, and can save every figure (``--figures DIR``) or write the result
summary as JSON (``--json``). ``list`` shows the bundled scenarios.
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
    args = ap.parse_args(argv)

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


if __name__ == "__main__":
    raise SystemExit(main())

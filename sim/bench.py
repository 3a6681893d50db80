"""The simulator's benchmark: ``python -m sim.bench --messages N [--json]``.

It runs the standard scenario (``sim/scenarios/standard.yaml``: the parameters of the
fixed naive-SimPy baseline ``../shared/bench/naive_simpy.py``) with ``N`` messages --
checker table, latency percentiles and lag timelines included in the timing -- and prints
messages, wall seconds (median of ``--repeat`` runs), messages per second, peak RSS and
the checker's totals.

- ``--vs-reference`` also runs the baseline (as a child process, ``--repeat`` times) in
  the same invocation and prints the ratio of the two median wall times;
- ``--interactive`` times the 20,000-message variant a learner re-runs when a slider
  moves (simulation + metrics, no plotting) over ``--runs`` runs and prints the median.

Every run takes ``--seed`` (default 7, the baseline's); the same seed gives the same
checker totals. Progress (runs done, :mod:`sim.progress`) goes to stderr, never under
``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import sim.progress as progress
from sim.core.engine import load, run
from sim.core.scenario import Scenario
from sim.core.workload import MAX_MESSAGES

#: Faults start at this share of the publish window, as in the baseline.
FAULT_AT = 0.2
#: The baseline's outage length (s) for subscriber 0 and consumer 0 of group 0.
DOWN_S = 30.0
#: Messages of the interactive variant, and its outage (the same share of its window as
#: 30 s of the 200 s window of the 1M-message scenario).
INTERACTIVE_MESSAGES = 20_000
INTERACTIVE_DOWN_S = DOWN_S * INTERACTIVE_MESSAGES / 1_000_000
#: Where the fixed baseline lives (override with --reference or COURSE_BENCH_REFERENCE).
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "bench" / "naive_simpy.py"


def standard(messages: int = 1_000_000, down_s: float = DOWN_S) -> Scenario:
    """The standard scenario with ``messages`` messages: subscriber 0 and consumer 0 of
    group 0 are down for ``down_s`` seconds from 20% of the expected publish window."""
    sc = load("standard")
    window = messages / sc.workload.rate_per_s
    changes: dict[str, object] = {"workload.messages": messages}
    for i in range(len(sc.faults)):
        changes[f"faults.{i}.start_s"] = FAULT_AT * window
        changes[f"faults.{i}.duration_s"] = down_s
    return sc.with_changes(**changes)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class SimTiming:
    """The simulator on the standard scenario: wall seconds of every run, peak RSS of this
    process (MB) and the checker's totals (summed over readers)."""

    messages: int
    seed: int
    walls_s: tuple[float, ...]
    peak_rss_mb: float
    totals: dict[str, int]
    pubsub_processed: int
    pubsub_lost: int
    log_processed: int

    @property
    def wall_s(self) -> float:
        return statistics.median(self.walls_s)

    @property
    def msgs_per_s(self) -> float:
        return self.messages / self.wall_s


@dataclass(frozen=True)
class ReferenceTiming:
    """The naive-SimPy baseline: wall seconds of every run (as it reports them) and its
    last JSON output (counts, latency percentiles, its own peak RSS)."""

    path: str
    walls_s: tuple[float, ...]
    output: dict

    @property
    def wall_s(self) -> float:
        return statistics.median(self.walls_s)


@dataclass(frozen=True)
class InteractiveTiming:
    """The interactive variant: wall seconds of every timed run (after one warm-up)."""

    messages: int
    walls_s: tuple[float, ...]
    warmup_s: float

    @property
    def median_ms(self) -> float:
        return 1000 * statistics.median(self.walls_s)


# --------------------------------------------------------------------------- timing


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_sim(messages: int, seed: int = 7, repeat: int = 3) -> SimTiming:
    """Run the standard scenario ``repeat`` times; every run computes the full result."""
    sc = standard(messages)
    walls = []
    with progress.task(f"sim.bench: {messages:,} messages", total=repeat, unit="runs") as shown:
        for _ in range(repeat):
            t0 = time.perf_counter()
            result = run(sc, seed=seed)
            walls.append(time.perf_counter() - t0)
            report = result.report
            del result  # the next run must not hold two results at once
            shown.advance()
    subs = [r for r in report.rows if r.reader.startswith("subscriber:")]
    groups = [r for r in report.rows if r.reader.startswith("group:")]
    return SimTiming(
        messages=messages,
        seed=seed,
        walls_s=tuple(walls),
        peak_rss_mb=peak_rss_mb(),
        totals=report.totals(),
        pubsub_processed=sum(r.processed for r in subs),
        pubsub_lost=sum(r.lost for r in subs),
        log_processed=sum(r.processed for r in groups),
    )


def time_reference(
    messages: int, path: Path, repeat: int = 3, timeout_s: float = 900.0
) -> ReferenceTiming:
    """Run the naive baseline ``repeat`` times as a child process (same Python)."""
    if not path.is_file():
        raise FileNotFoundError(
            f"the naive SimPy baseline is not at {path}; pass --reference PATH "
            "(or set COURSE_BENCH_REFERENCE) to the shared bench/naive_simpy.py."
        )
    walls, out = [], {}
    cmd = [sys.executable, str(path), "--messages", str(messages), "--json"]
    with progress.task("sim.bench: the naive baseline", total=repeat, unit="runs") as shown:
        for _ in range(repeat):
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
            except subprocess.TimeoutExpired:
                raise TimeoutError(
                    f"the baseline took longer than {timeout_s:g} s for {messages} messages; "
                    "raise --reference-timeout or use fewer --messages."
                ) from None
            if proc.returncode != 0:
                tail = proc.stderr[-2000:]
                raise RuntimeError(f"the baseline failed ({proc.returncode}):\n{tail}")
            out = json.loads(proc.stdout.strip().splitlines()[-1])
            walls.append(float(out["wall_s"]))
            shown.advance()
    return ReferenceTiming(str(path), tuple(walls), out)


def time_interactive(runs: int = 25, seed: int = 0) -> InteractiveTiming:
    """Time the 20,000-message variant: one warm-up run, then ``runs`` runs, each with
    its own seed (a learner moving a slider gets a fresh run, never a cached one)."""
    sc = standard(INTERACTIVE_MESSAGES, INTERACTIVE_DOWN_S)
    what = "sim.bench: the interactive variant (a warm-up run first)"
    with progress.task(what, total=runs + 1, unit="runs") as shown:
        t0 = time.perf_counter()
        run(sc, seed=seed)
        warm = time.perf_counter() - t0
        shown.advance()
        walls = []
        for i in range(runs):
            t0 = time.perf_counter()
            run(sc, seed=seed + 1 + i)
            walls.append(time.perf_counter() - t0)
            shown.advance()
    return InteractiveTiming(INTERACTIVE_MESSAGES, tuple(walls), warm)


# --------------------------------------------------------------------------- CLI


def _bounded_int(name: str, lo: int, hi: int):
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", "").replace(",", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be an integer in [{lo:,}, {hi:,}], got {text!r}"
            ) from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{name} must be in [{lo:,}, {hi:,}], got {value:,}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m sim.bench",
        description="Time the simulator on the standard scenario (and the naive baseline).",
    )
    ap.add_argument(
        "--messages",
        type=_bounded_int("--messages", 1, MAX_MESSAGES),
        default=1_000_000,
        help="messages in the standard scenario (default 1,000,000)",
    )
    ap.add_argument("--seed", type=_bounded_int("--seed", 0, 2**31 - 1), default=7)
    ap.add_argument(
        "--repeat",
        type=_bounded_int("--repeat", 1, 100),
        default=3,
        help="runs of the simulator (and of the baseline); the median counts (default 3)",
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument(
        "--vs-reference", action="store_true", help="also run the naive baseline and compare"
    )
    ap.add_argument(
        "--reference",
        type=Path,
        default=Path(os.environ.get("COURSE_BENCH_REFERENCE", REFERENCE)),
        help=f"the baseline script (default {REFERENCE})",
    )
    ap.add_argument(
        "--reference-timeout",
        type=_bounded_int("--reference-timeout", 1, 86_400),
        default=900,
        help="seconds one baseline run may take (default 900)",
    )
    ap.add_argument(
        "--interactive",
        action="store_true",
        help=f"time the {INTERACTIVE_MESSAGES:,}-message variant instead (median of --runs)",
    )
    ap.add_argument("--runs", type=_bounded_int("--runs", 1, 10_000), default=25)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with progress.silenced(args.json):
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    out: dict = {}
    if args.interactive:
        it = time_interactive(args.runs, args.seed)
        out["interactive"] = {
            "messages": it.messages,
            "runs": len(it.walls_s),
            "median_ms": round(it.median_ms, 2),
            "min_ms": round(1000 * min(it.walls_s), 2),
            "max_ms": round(1000 * max(it.walls_s), 2),
            "warmup_ms": round(1000 * it.warmup_s, 2),
        }
    else:
        st = time_sim(args.messages, args.seed, args.repeat)
        out["sim"] = {
            **{k: v for k, v in asdict(st).items() if k != "walls_s"},
            "walls_s": [round(w, 6) for w in st.walls_s],
            "wall_s": round(st.wall_s, 6),
            "msgs_per_s": round(st.msgs_per_s),
            "peak_rss_mb": round(st.peak_rss_mb),
        }
        if args.vs_reference:
            try:
                ref = time_reference(
                    args.messages, args.reference, args.repeat, args.reference_timeout
                )
            except (OSError, TimeoutError, RuntimeError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            out["reference"] = {
                "path": ref.path,
                "walls_s": list(ref.walls_s),
                "wall_s": ref.wall_s,
                "output": ref.output,
            }
            out["speedup"] = round(ref.wall_s / st.wall_s, 3)
    print(json.dumps(out) if args.json else _text(out))
    return 0


def _text(out: dict) -> str:
    lines = []
    if "interactive" in out:
        it = out["interactive"]
        lines += [
            f"interactive variant: {it['messages']:,} messages, {it['runs']} runs "
            f"(one warm-up run first: {it['warmup_ms']} ms)",
            f"  median        {it['median_ms']:8.2f} ms   (min {it['min_ms']}, max {it['max_ms']})",
        ]
    if "sim" in out:
        s = out["sim"]
        lines += [
            f"standard scenario: {s['messages']:,} messages, seed {s['seed']}, "
            f"{len(s['walls_s'])} runs",
            f"  wall (median) {s['wall_s']:8.3f} s    runs: "
            + ", ".join(f"{w:.3f}" for w in s["walls_s"]),
            f"  messages/s    {s['msgs_per_s']:>10,}",
            f"  peak RSS      {s['peak_rss_mb']:8d} MB",
            "  checker totals: " + ", ".join(f"{k} {v:,}" for k, v in s["totals"].items()),
        ]
    if "reference" in out:
        r, s = out["reference"], out["sim"]
        o = r["output"]
        lines += [
            f"naive SimPy baseline: {r['path']}",
            f"  wall (median) {r['wall_s']:8.3f} s    runs: "
            + ", ".join(f"{w:.3f}" for w in r["walls_s"]),
            f"  peak RSS      {o.get('peak_rss_mb', 0):8d} MB",
            "  counts         baseline / simulator (different random streams and "
            "partitioner: close, not equal)",
            f"    log processed     {o.get('log', 0):>10,} / {s['log_processed']:,}",
            f"    pubsub processed  {o.get('pubsub', 0):>10,} / {s['pubsub_processed']:,}",
            f"    pubsub lost       {o.get('lost', 0):>10,} / {s['pubsub_lost']:,}",
            f"speed-up: {out['speedup']:.1f}x (baseline median / simulator median; target >= 40x)",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())

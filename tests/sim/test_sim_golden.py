"""Golden pin: every bundled scenario, and the durability twin, at a fixed seed.

The checker table (every column of every reader, latency percentiles included), every
metric and a digest of every time series are stored in ``tests/sim/golden/*.json`` and
compared exactly: a refactoring of the simulator must not change a single count or float.
A deliberate change of behaviour regenerates them with
``python tests/sim/test_sim_golden.py --update`` (and says so in its commit).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.course.durability import simulate_durability

GOLDEN = Path(__file__).parent / "golden"
SCENARIOS = sorted(
    p.stem for p in (Path(sim.__file__).parent / "scenarios").glob("*.yaml") if p.stem != "standard"
)
#: The standard scenario is the 1M-message benchmark; pinned here at 20,000 messages.
STANDARD_MESSAGES = 20_000
SEED = 11
DURABILITY = [
    (acks, schedule)
    for acks in (1, "all")
    for schedule in ("leader-kill", "frozen-followers", "frozen-followers-short")
]


def _num(x: float) -> float | str:
    """JSON has no NaN or infinity: those are stored as strings."""
    x = float(x)
    return x if math.isfinite(x) else repr(x)


def snapshot(result: sim.Result) -> dict:
    """Everything a run decides, as plain JSON data."""
    return {
        "report": result.report.as_dicts(),
        "metrics": {k: _num(v) for k, v in sorted(result.metrics.items())},
        "series": {
            k: [int(s.t.size), _num(np.nansum(s.t)), _num(np.nansum(s.value))]
            for k, s in sorted(result.series.items())
        },
        "settings": {k: str(v) for k, v in sorted(result.settings.items())},
        "outcome": np.bincount(result.history.outcome.astype(np.int64) + 1).tolist(),
    }


def _normal(data: dict) -> dict:
    """Round-trip through JSON so float reprs and NaN strings compare like stored ones."""
    for row in data["report"]:
        for k, v in row.items():
            if isinstance(v, float):
                row[k] = _num(v)
    return json.loads(json.dumps(data))


def run_case(case: str) -> dict:
    if case.startswith("durability-"):
        _, acks, schedule = case.split("-", 2)
        r = simulate_durability(acks=acks, schedule=schedule, seed=SEED)
    elif case == "standard":
        from sim.bench import standard

        r = sim.run(standard(STANDARD_MESSAGES, down_s=0.6), seed=SEED)
    else:
        r = sim.run(case, seed=SEED)
    return _normal(snapshot(r))


CASES = [*SCENARIOS, "standard", *(f"durability-{a}-{s}" for a, s in DURABILITY)]


@pytest.mark.parametrize("case", CASES)
def test_golden(case):
    stored = json.loads((GOLDEN / f"{case}.json").read_text())
    got = run_case(case)
    assert got["report"] == stored["report"]
    assert got["metrics"] == stored["metrics"]
    assert got["series"] == stored["series"]
    assert got == stored


if __name__ == "__main__" and "--update" in sys.argv:
    GOLDEN.mkdir(exist_ok=True)
    for c in CASES:
        (GOLDEN / f"{c}.json").write_text(json.dumps(run_case(c), indent=1) + "\n")
        print("wrote", c)

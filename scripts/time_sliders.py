"""Kernel-side time of a slider move, per lesson widget: what `explore` does on one move.

Runs each lesson's cells up to its ``explore(...)`` with a recording ``explore``
(``sim.course.widgets.lesson_explorers``),
then moves each control to its min, max, and one step from its default, timing each
redraw (moves back to a value already drawn are left out: the widget answers those from
its cache).
Usage: .venv/bin/python scripts/time_sliders.py [01 02 05 07 11] [--old] [--keys]
``--keys``: arrow-key moves instead (each slider three steps from its default).
``--old``: time the old path (draw + IPython's inline PNG with bbox_inches="tight").
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("agg")

ROOT = Path(__file__).resolve().parents[1]


def capture(lesson: str) -> tuple:
    """The lesson's first explore(...): its draw function and controls."""
    from sim.course.widgets import lesson_explorers

    path = next((ROOT / "notebooks").glob(f"{lesson}_*.py"))
    return lesson_explorers(path)[0]


def moves(controls: dict) -> list[dict]:
    """Values after each move: every control to its ends and back, one at a time."""
    base = {n: w.value for n, w in controls.items()}
    out = []
    for n, w in controls.items():
        if hasattr(w, "min"):
            ends = [w.min, w.max, base[n]]
            ends += [base[n] + w.step if base[n] + w.step <= w.max else base[n] - w.step, base[n]]
        else:
            ends = [v for _, v in _options(w)] + [base[n]]
        for v in ends:
            out.append({**base, n: v})
    return out


def key_presses(controls: dict) -> list[dict]:
    """Values after each arrow-key press: every slider three steps from its default (up, or
    down at the top of its range); dropdowns are left alone."""
    base = {n: w.value for n, w in controls.items()}
    out = []
    for n, w in controls.items():
        if not hasattr(w, "step"):
            continue
        sign = 1 if base[n] + w.step <= w.max else -1
        out += [{**base, n: base[n] + sign * k * w.step} for k in (1, 2, 3)]
    return out


def _options(w):
    return [(o, o) if not isinstance(o, tuple) else o for o in w.options]


def main() -> None:
    old = "--old" in sys.argv
    keyboard = "--keys" in sys.argv
    lessons = [a for a in sys.argv[1:] if not a.startswith("--")] or ["01", "02", "05", "07", "11"]
    for lesson in lessons:
        draw, controls = capture(lesson)
        times = []
        if old:
            from IPython.core.pylabtools import print_figure

            def move(values, draw=draw):
                fig = draw(**values)
                print_figure(fig, "png", bbox_inches="tight")

        else:
            from sim.course.widgets import explore

            box = explore(draw, **controls)

            def move(values, controls=controls):
                for n, v in values.items():
                    controls[n].value = v  # the observer redraws (only on a real change)

        seen = set()
        cpu = []
        for values in key_presses(controls) if keyboard else moves(controls):
            key = tuple(sorted(values.items()))
            if key in seen:  # a value drawn before: the new path answers from its cache
                continue
            seen.add(key)
            t0, c0 = time.perf_counter(), time.process_time()
            move(values)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        times.sort()
        if not old:
            lay = box._layouts
            print(f"{lesson}: layouts reused {lay.reused}, computed {lay.computed}")
        print(
            f"{lesson}: {len(times)} moves to new values, median "
            f"{1000 * statistics.median(times):.0f} ms (CPU {1000 * statistics.median(cpu):.0f}"
            f" ms), max {1000 * times[-1]:.0f} ms"
        )


if __name__ == "__main__":
    main()

"""What the throughput twin says beside its rows: how busy the machine and its host were
during the sweeps (:func:`machine_notes`), and the model at its own calibration rates
(:func:`calibration_note`). :mod:`labs.twins.throughput` adds them to its result.

**The model at its own calibration rates.** The twin calibrates on its lowest rates and
never compares them; the note sets what the simulator gives there beside what the sweeps
measured (:func:`at_calibration`). Over 27 saved runs on a 2-vCPU cloud machine, before the
tail was fitted, the simulated p50 was 1.01-1.03 times the measured one, the p99 1.36 times
for Pub/Sub (1.24-1.8) and 0.9 for Kafka (0.83-1.23): a stall that starts during one of
Pub/Sub's ~0.4 ms wake-ups delays that message on top of the tail that already held it, so
the renewal identity's stalls (:meth:`sim.models.throughput.LatencyShape.stalls`) count
twice there. The tail is now fitted to the measured p99 (:mod:`sim.models.tail_fit`,
the calibration's ``tail_factor``): Kafka's p99 comes back as measured, Pub/Sub's factor
stays at its lower bound and its p99 above the measured one. The real tail grows with the
rate faster than these stalls explain, and that excess makes up part of it -- the model's
next step, not a constant to tune.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np

from labs.steal import STEAL_NOTE, percents, stolen
from labs.twins.throughput_sweeps import RealSweeps, SimCurves


def at_calibration(
    real: RealSweeps, sim: SimCurves, cal_points: int, compared: Iterable[str]
) -> dict[str, dict[str, tuple[float, float]]]:
    """Per configuration and percentile (``compared``: ``p50``, ``p99``...), at the
    ``cal_points`` lowest rates, ``(simulated, measured)``: the median over those rates of
    the simulator's figure (each already its median over seeds), and the median over every
    real point there."""
    cal_rates = real.rates_per_s[:cal_points]
    names = tuple(compared)

    def medians(label: str, name: str) -> tuple[float, float]:
        field = f"{name}_ms"
        simulated = [getattr(sim.point(label, r), field) for r in cal_rates]
        measured = [getattr(p, field) for r in cal_rates for p in real.sweeps[label].at(r)]
        return float(np.median(simulated)), float(np.median(measured))

    return {label: {name: medians(label, name) for name in names} for label in real.sweeps}


def calibration_note(
    real: RealSweeps, sim: SimCurves, cal_points: int, compared: Iterable[str]
) -> str:
    """The model against its own calibration: what the simulator gives at the rates it was
    calibrated on, next to what was measured there, and the ratio."""
    parts = [
        f"{label} {name} {s:.3g} ms simulated, {m:.3g} measured (x{s / m:.2f})"
        for label, figs in at_calibration(real, sim, cal_points, compared).items()
        for name, (s, m) in figs.items()
        if m > 0
    ]
    return (
        "the model at its own calibration rates (not compared): "
        + "; ".join(parts)
        + ". The compared rows start from there: a ratio away from 1 is carried into them. "
        "The tail's length was fitted so that the simulated p99 there is the measured one "
        "(the calibration's tail_factor, from 0.5 to 2); where the factor sits at a bound, "
        "the gap comes from elsewhere: the model draws the low-rate tail as stalls of the "
        "client's thread, and a stall that starts during a wake-up of the send loop delays "
        "that message too, on top of the tail that already held it -- where a wake-up is "
        "long against the time between stalls (Redis Pub/Sub), the simulated p99 comes out "
        "above the measured one."
    )


def machine_notes(real: RealSweeps) -> tuple[str, ...]:
    """A busy machine, said: the model gives the client's process a core between stalls;
    and a busy host (steal time), said with the share of each sweep."""
    notes = []
    load, cores = max(real.load_average), os.cpu_count() or 1
    if load > cores:
        notes.append(
            f"this machine was busy: 1-minute load average up to {load:.1f} on {cores} "
            "cores during the sweeps. The model lets the client's process run whenever its "
            "thread is not stalled; sharing the CPU with other work lowers the real "
            "saturation rate and raises the tail at every rate, so expect disagreement."
        )
    dropped = {label: sw.dropped_steal for label, sw in real.sweeps.items() if sw.dropped_steal}
    if dropped:
        notes.append(
            "swept again while the host stole (steal, /proc/stat) "
            f"{STEAL_NOTE:.0%} or more of a sweep's CPU time; left out -- "
            + "; ".join(f"{label}: {percents(shares)}" for label, shares in dropped.items())
            + "; the figures are the quietest sweeps'."
        )
    if any(stolen(x) for sw in real.sweeps.values() for x in sw.steal):
        per_sweep = "; ".join(
            f"{label}: {percents(sw.steal)}" for label, sw in real.sweeps.items() if sw.steal
        )
        notes.append(
            f"the host took {real.steal_share:.1%} of this virtual machine's CPU time "
            f"(steal, /proc/stat) during the sweeps; the sweeps compared: {per_sweep}. "
            "A vCPU that is not running delays every message due meanwhile: the real "
            "tails carry the host's load, which the low-rate calibration saw only in "
            "part. Expect disagreement on p99; re-run when the host is quieter."
        )
    return tuple(notes)

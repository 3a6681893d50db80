"""The failover lesson's figure: acknowledged writes a Redis failover loses, by write rate,
with and without ``WAIT``, and what ``WAIT`` costs in latency (lesson 15, part 3).

Everything comes from :func:`sim.models.replication.simulate_failover` (seeded); the
theory line is :func:`sim.models.replication.expected_failover_loss`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from sim.analysis.style import figure
from sim.models.replication import Lag, expected_failover_loss, simulate_failover

#: Write rates of the left panel's sweep (msg/s).
SWEEP_RATES = (10, 50, 100, 200, 400, 700, 1000, 1500, 2000)


def failover_figure(
    rate_per_s: float = 200.0, lag_ms: float = 100.0, kill_after_s: float = 1.5, seed: int = 0
) -> Figure:
    """Left: acknowledged writes lost on failover against the write rate, for a replica
    ``lag_ms`` behind (asynchronous, with ``WAIT 1``, theory ``rate * lag``), the chosen
    rate marked. Right: per-write latency p50 and p99 at the chosen rate, both ways."""
    lag = Lag(float(lag_ms))
    rates = np.array(sorted({*SWEEP_RATES, float(rate_per_s)}), float)
    lost = [
        simulate_failover(rate_per_s=r, lag=lag, kill_s=kill_after_s, seed=seed).lost for r in rates
    ]
    lost_wait = [
        simulate_failover(rate_per_s=r, lag=lag, kill_s=kill_after_s, wait=True, seed=seed).lost
        for r in rates
    ]
    here = simulate_failover(rate_per_s=rate_per_s, lag=lag, kill_s=kill_after_s, seed=seed)
    here_wait = simulate_failover(
        rate_per_s=rate_per_s, lag=lag, kill_s=kill_after_s, wait=True, seed=seed
    )
    fig, axes = figure("failover", (10.0, 3.8), 1, 2)
    left, right = axes[0]
    left.plot(rates, lost, "o-", color="#c0392b", label="asynchronous (lost)")
    left.plot(rates, lost_wait, "s-", color="#2471a3", label="WAIT 1 (lost)")
    theory = [expected_failover_loss(rate_per_s=r, lag_ms=lag_ms) for r in rates]
    left.plot(rates, theory, "--", color="#7f8c8d", label="theory: rate x lag")
    left.plot([rate_per_s], [here.lost], "*", color="black", markersize=14, label="your rate")
    left.set_xlabel("write rate (msg/s)")
    left.set_ylabel("acknowledged writes lost (writes)")
    left.set_title(f"Failover with the replica {lag_ms:g} ms behind")
    left.legend(loc="upper left", fontsize=8)
    names = ("asynchronous", "WAIT 1")
    x = np.arange(2)
    p50 = [here.latency_ms(50), here_wait.latency_ms(50)]
    p99 = [here.latency_ms(99), here_wait.latency_ms(99)]
    right.bar(x - 0.2, p50, 0.4, color="#5dade2", label="p50")
    right.bar(x + 0.2, p99, 0.4, color="#1a5276", label="p99")
    right.set_xticks(x, names)
    right.set_xlabel("how the client counts a write as done (-)")
    right.set_ylabel("latency per write (ms)")
    right.set_title(
        f"At {rate_per_s:g} msg/s: {here.lost} lost without WAIT, {here_wait.lost} with it"
    )
    right.legend(loc="upper left", fontsize=8)
    return fig

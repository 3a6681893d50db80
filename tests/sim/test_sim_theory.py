"""The simulator against theory, over seeded replications with stated tolerances."""

import math

import numpy as np
import pytest

import sim
from sim.models.partitioner import key_bytes, partition_of

SEEDS = range(4)


def _one_partition_group(**group):
    return {
        "topology": {"log": {"partitions": 1, "network_delay_ms": 0}},
        "consumers": {"groups": [group]},
    }


def test_pubsub_loss_fraction_equals_downtime_fraction():
    # A subscriber down for [20, 40) s plus a 0.5 s reconnect delay, Poisson arrivals:
    # each message is lost with probability down/window, so the loss fraction is a
    # binomial proportion. Tolerance: 4 standard errors of the mean over the replications.
    rate, dur = 2000.0, 100.0
    scenario = sim.Scenario.from_dict(
        {
            "workload": {"rate_per_s": rate, "duration_s": dur, "arrivals": "poisson"},
            "consumers": {"subscribers": [{"reconnect_delay_ms": 500}, {}]},
            "faults": [["subscriber_down", "subscriber:0", 20, 20]],
            "drain_s": 1,
        }
    )
    fracs, theory = [], []
    for seed in SEEDS:
        r = sim.run(scenario, seed=seed)
        fracs.append(r.report["subscriber:0"].loss_fraction)
        theory.append(r.metrics["down_fraction:subscriber:0"])
        assert r.report["subscriber:1"].lost == 0
    p = float(np.mean(theory))
    assert p == pytest.approx(20.5 / dur, rel=0.01)
    se = math.sqrt(p * (1 - p) / (rate * dur)) / math.sqrt(len(fracs))
    assert abs(np.mean(fracs) - p) < 4 * se, (np.mean(fracs), p, se)


def test_kafka_offline_below_retention_loses_nothing_lag_and_catch_up_follow_theory():
    # One consumer (mu = 2000/s, constant service) pauses for D = 20 s (a network flap
    # shorter than the session timeout), lambda = 1000/s Poisson. Theory: zero lost,
    # peak lag = lambda*D, catch-up = backlog/(mu - lambda). Tolerances: Poisson count
    # sd sqrt(lambda*D) (x4) for the peak; for the catch-up the drain time's sd
    # sqrt(lambda*T)/(mu - lambda) (x4) plus the 1% threshold at which we stop the clock.
    lam, mu, down = 1000.0, 2000.0, 20.0
    scenario = sim.Scenario.from_dict(
        {
            "workload": {"rate_per_s": lam, "duration_s": 80},
            **_one_partition_group(service={"kind": "constant", "mean_ms": 1000 / mu}),
            "faults": [["network_flap", "group:0:0", 10, down]],
            "drain_s": 30,
        }
    )
    for seed in SEEDS:
        r = sim.run(scenario, seed=seed)
        row = r.report["group:0"]
        assert row.lost == 0 and row.unseen == 0 and row.duplicated == 0
        peak = r.metrics["peak_lag:group:0"]
        assert abs(peak - lam * down) < 4 * math.sqrt(lam * down) + 10, peak
        catch = r.metrics["catch_up_s:group:0"]
        theory = peak / (mu - lam)
        tol = 4 * math.sqrt(lam * theory) / (mu - lam) + 0.01 * theory
        assert abs(catch - theory) < tol, (catch, theory, tol)


def test_mm1_mean_time_in_system():
    # M/M/1 with lambda = 500/s, mu = 1000/s: mean time in system 1/(mu - lambda) = 2 ms.
    # Sojourn times are autocorrelated; the asymptotic variance of the mean sojourn for
    # rho = 0.5 is about 29/(mu^2 n), i.e. a 0.85% sd per 100k-message run, 0.45% over 4
    # runs: a 3% tolerance is more than 4 sd. The first 10 s are dropped as warm-up.
    lam, mu = 500.0, 1000.0
    scenario = sim.Scenario.from_dict(
        {
            "workload": {"rate_per_s": lam, "duration_s": 200},
            **_one_partition_group(service={"kind": "exponential", "mean_ms": 1000 / mu}),
            "drain_s": 5,
        }
    )
    service = scenario.consumers.groups[0].service
    assert service.mean == pytest.approx(1 / mu)
    means = []
    for seed in SEEDS:
        r = sim.run(scenario, seed=seed)
        reader = r.history.reader("group:0")
        t_pub = r.history.publish_time[reader.ids]
        keep = t_pub > 10.0
        means.append(float(np.mean(reader.times[keep] - t_pub[keep])))
    assert np.mean(means) == pytest.approx(1 / (mu - lam), rel=0.03)


def _poll_batches(arrivals, s, max_poll, until):
    """Independent model of a saturated poll loop: (start index, end index, poll time)."""
    t, i, out = 0.0, 0, []
    while i < arrivals.size and t < until:
        avail = int(np.searchsorted(arrivals, t, side="right"))
        if avail <= i:
            t = arrivals[i]
            continue
        j = min(i + max_poll, avail)
        out.append((i, j, t))
        t += (j - i) * s
        i = j
    return out


@pytest.mark.parametrize("crash_at", [5.0013, 3.3301, 7.77])
def test_commit_after_processing_crash_gives_predicted_duplicates(crash_at):
    # Constant arrivals (1000/s) into one partition faster than the consumer (about
    # 477/s): the consumer is always busy, so its poll batches are deterministic. At the
    # crash, the records processed in the current batch are not committed; the other
    # member takes over from the last commit and processes exactly those again.
    s = 0.002 * math.sqrt(1.1)
    scenario = sim.Scenario.from_dict(
        {
            "workload": {"arrivals": "constant", "rate_per_s": 1000, "messages": 10000},
            **_one_partition_group(
                consumers=2,
                commit="after",
                max_poll_records=7,
                session_timeout_ms=1000,
                rebalance_ms=500,
                service={"kind": "constant", "mean_ms": s * 1000},
            ),
            "faults": [["consumer_crash", "group:0:0", crash_at, 30]],
            "drain_s": 60,
        }
    )
    r = sim.run(scenario, seed=0)
    start, _, t0 = _poll_batches(np.arange(10000) / 1000, s, 7, crash_at)[-1]
    processed_since_commit = int((crash_at - t0) // s)
    row = r.report["group:0"]
    assert row.duplicated == processed_since_commit
    assert row.extra == processed_since_commit
    assert r.metrics["redelivered:group:0"] == processed_since_commit
    assert row.lost == 0 and row.unseen == 0


def test_offline_past_retention_loses_exactly_the_deleted_messages():
    # Retention 10 s, segments of 1 s checked every second; the only consumer crashes at
    # 20 s and returns at 50 s. On its first fetch its committed offset is below the log
    # start offset: every segment whose newest record is older than 40 s has been deleted
    # (the check at 50 s sees it more than 10 s old). Segments roll at the first record more
    # than 1 s after the segment's first. What was published from 20 s to the first record
    # of the segment holding the first record at or after 40 s is lost, nothing else.
    scenario = sim.Scenario.from_dict(
        {
            "workload": {"rate_per_s": 100, "duration_s": 60},
            "topology": {
                "log": {
                    "partitions": 1,
                    "network_delay_ms": 0,
                    "retention_ms": 10_000,
                    "segment_ms": 1000,
                    "retention_check_interval_ms": 1000,
                }
            },
            "consumers": {
                "groups": [
                    {
                        "rebalance_ms": 0,
                        "auto_offset_reset": "earliest",
                        "service": {"kind": "constant", "mean_ms": 0.01},
                    }
                ]
            },
            "faults": [["consumer_crash", "group:0:0", 20, 30]],
            "drain_s": 5,
        }
    )
    for seed in SEEDS:
        r = sim.run(scenario, seed=seed)
        t = np.sort(r.history.publish_time)
        first = [0]  # the first record of each segment
        for i in range(t.size):
            if t[i] - t[first[-1]] > 1.0:
                first.append(i)
        at_40 = int(np.searchsorted(t, 40.0))
        kept = first[int(np.searchsorted(first, at_40, side="right")) - 1]
        deleted = int(((t >= 20) & (np.arange(t.size) < kept)).sum())
        row = r.report["group:0"]
        assert row.lost == deleted > 0
        assert row.processed == row.acknowledged - deleted
        assert r.metrics["skipped:group:0"] == deleted


@pytest.mark.parametrize("partitions", [1, 3, 12, 50])
def test_partitions_equal_murmur2_exactly(partitions):
    scenario = sim.Scenario.from_dict(
        {
            "workload": {
                "rate_per_s": 2000,
                "duration_s": 2,
                "keys": 500,
                "key_distribution": "zipf",
            },
            "topology": {"log": {"partitions": partitions}},
            "consumers": {"groups": [{}]},
            "drain_s": 1,
        }
    )
    r = sim.run(scenario, seed=5)
    h = r.history
    direct = np.array([partition_of(key_bytes(k), partitions) for k in h.keys])
    np.testing.assert_array_equal(h.partition, direct)
    np.testing.assert_array_equal(
        np.bincount(h.partition, minlength=partitions),
        np.bincount(direct, minlength=partitions),
    )

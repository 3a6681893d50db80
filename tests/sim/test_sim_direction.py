"""Direction of change: the knob moves the outcome the way the theory says."""

import sim

SEEDS = range(3)


def _peak_lag(consumers, seed):
    sc = sim.Scenario.from_dict(
        {
            "workload": {"rate_per_s": 3000, "duration_s": 20, "keys": 5000},
            "topology": {"log": {"partitions": 6}},
            "consumers": {
                "groups": [
                    {"consumers": consumers, "service": {"kind": "exponential", "mean_ms": 1.0}}
                ]
            },
            "drain_s": 60,
        }
    )
    return sim.run(sc, seed=seed).metrics["peak_lag:group:0"]


def test_more_consumers_less_peak_lag():
    for seed in SEEDS:
        lags = [_peak_lag(c, seed) for c in (1, 2, 3, 6)]
        assert lags == sorted(lags, reverse=True) and lags[0] > lags[-1], (
            f"more consumers share the partitions, so each has less to do: {lags}"
        )


def test_longer_downtime_more_pubsub_loss():
    for seed in SEEDS:
        lost = []
        for down in (0, 2, 5, 10):
            sc = sim.Scenario.from_dict(
                {
                    "workload": {"rate_per_s": 500, "duration_s": 30},
                    "consumers": {"subscribers": 1},
                    "faults": [["subscriber_down", "subscriber:0", 5, down]],
                    "drain_s": 1,
                }
            )
            lost.append(sim.run(sc, seed=seed).report["subscriber:0"].lost)
        assert lost == sorted(lost) and lost[0] < lost[-1], (
            f"Pub/Sub drops everything published while a subscriber is away: {lost}"
        )


def test_larger_zipf_exponent_higher_partition_skew():
    for seed in SEEDS:
        skews = []
        for s in (0.0, 0.6, 1.2, 2.0):
            sc = sim.Scenario.from_dict(
                {
                    "workload": {
                        "rate_per_s": 5000,
                        "duration_s": 4,
                        "keys": 2000,
                        "key_distribution": "zipf",
                        "zipf_s": s,
                    },
                    "topology": {"log": {"partitions": 12}},
                    "consumers": {"groups": [{"consumers": 12, "service": {"mean_ms": 0.01}}]},
                    "drain_s": 1,
                }
            )
            skews.append(sim.run(sc, seed=seed).metrics["partition_skew"])
        assert skews == sorted(skews) and skews[-1] > 2 * skews[0], (
            f"a steeper Zipf puts more traffic on the hottest key's partition: {skews}"
        )

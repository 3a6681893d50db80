"""Streams delivery counts and trimming in the simulator, against theory.

- A record whose every delivery fails with probability ``p`` (independently) is
  dead-lettered after ``N = max_deliveries`` deliveries with probability ``p**N``: over
  ``n`` records the dead-lettered fraction is a binomial proportion with standard error
  ``sqrt(p**N (1 - p**N) / n)``; the tolerance is 4 standard errors.
- A poison record (every delivery fails) is dead-lettered after exactly ``N`` deliveries:
  ``N - 1`` of them are XAUTOCLAIM redeliveries.
- A consumer group reading at ``mu`` a stream appended at ``lam > mu`` and capped at
  ``MAXLEN = L`` loses ``n (1 - mu / lam) - L`` entries: it reads ``mu T`` while the
  ``n = lam T`` records arrive, then the ``L`` still in the stream. With constant times and
  COUNT 1 the only rounding is the entry at the crossing: tolerance 2 entries.
- Entries a crashed consumer held pending when trimming deleted them leave the PEL at the
  next XAUTOCLAIM (``pending_trimmed``): a whole batch of COUNT, as the sim XACKs per batch.
"""

from __future__ import annotations

import math

import pytest

import sim
from labs.experiments.streams_ops import STREAMS_OPS, trim_scenario
from sim.models.dlq import dead_letter_fraction
from sim.models.streams import lost_to_maxlen

GROUP = "stream-group:0"


@pytest.mark.parametrize(("p", "deliveries"), [(0.5, 3), (0.3, 2), (0.7, 4), (0.6, 1)])
def test_dead_lettered_fraction_is_p_to_the_max_deliveries(p, deliveries):
    n = 4000
    scenario = STREAMS_OPS.build_scenario(
        messages=n, poison_fraction=0.0, failure_probability=p, max_deliveries=deliveries
    )
    r = sim.run(scenario, seed=1)
    theory = dead_letter_fraction(p, deliveries)
    assert theory == p**deliveries
    se = math.sqrt(theory * (1 - theory) / n)
    fraction = r.metrics[f"dlq:{GROUP}"] / n
    assert abs(fraction - theory) <= 4 * se, (fraction, theory, se)
    # Everything else was processed in the end: dead-lettered + processed = every record.
    row = r.report[GROUP]
    assert row.processed + r.metrics[f"dlq:{GROUP}"] == n
    assert row.unseen == 0 and r.metrics[f"pending_end:{GROUP}"] == 0


def test_with_poison_the_dead_lettered_share_is_poison_plus_p_to_the_n_of_the_rest():
    n, p, deliveries = 4000, 0.5, 2
    scenario = STREAMS_OPS.build_scenario(
        messages=n, poison_fraction=0.1, failure_probability=p, max_deliveries=deliveries
    )
    r = sim.run(scenario, seed=4)
    poison = int(r.history.readers[0].expected.size - r.history.readers[0].expected.sum())
    # Given the poison drawn, the rest is binomial(n - poison, p**N): 4 standard errors.
    rest = n - poison
    theory = dead_letter_fraction(p, deliveries, poison / n) * n
    se = math.sqrt(rest * p**deliveries * (1 - p**deliveries))
    assert abs(r.metrics[f"dlq:{GROUP}"] - theory) <= 4 * se


@pytest.mark.parametrize("deliveries", [1, 3, 5])
def test_every_poison_record_is_dead_lettered_after_exactly_max_deliveries(deliveries):
    scenario = STREAMS_OPS.build_scenario(
        messages=500, poison_fraction=0.1, failure_probability=0.0, max_deliveries=deliveries
    )
    r = sim.run(scenario, seed=2)
    poison = int(r.history.readers[0].expected.size - r.history.readers[0].expected.sum())
    assert poison > 0
    assert r.metrics[f"dlq:{GROUP}"] == poison
    assert r.report[f"dlq:{GROUP}"].processed == poison
    assert r.metrics[f"claimed:{GROUP}"] == poison * (deliveries - 1)


def _slow_group(n: int, lam: float, mu: float, maxlen: int | None) -> sim.Result:
    scenario = trim_scenario(messages=n, rate_per_s=lam, service_rate_per_s=mu, maxlen=maxlen)
    return sim.run(scenario, seed=0)


@pytest.mark.parametrize(
    ("n", "lam", "mu", "maxlen"), [(3000, 1000.0, 400.0, 200), (2000, 500.0, 250.0, 100)]
)
def test_maxlen_with_a_slow_group_loses_what_it_had_not_read(n, lam, mu, maxlen):
    r = _slow_group(n, lam, mu, maxlen)
    theory = n * (1 - mu / lam) - maxlen
    assert lost_to_maxlen(n, lam, mu, maxlen) == theory
    assert abs(r.report[GROUP].lost - theory) <= 2, (r.report[GROUP].lost, theory)


def test_without_maxlen_the_slow_group_loses_nothing():
    r = _slow_group(2000, 500.0, 250.0, None)
    assert r.report[GROUP].lost == 0 and r.report[GROUP].processed == 2000


@pytest.mark.parametrize("count", [5, 10])
def test_trimming_takes_the_batch_a_crashed_consumer_held_pending(count):
    r = sim.run(
        {
            "workload": {"rate_per_s": 1000, "messages": 1000, "arrivals": "constant"},
            "topology": {"stream": {"maxlen": 100}},
            "consumers": {
                "stream_groups": [
                    {
                        "count": count,
                        "min_idle_ms": 100,
                        "autoclaim_interval_ms": 50,
                        "service": {"kind": "constant", "mean_ms": 5},
                    }
                ]
            },
            # Down at 0.1 s for 0.5 s: 500 more entries arrive, 400 past MAXLEN 100.
            "faults": [["consumer_crash", f"{GROUP}:0", 0.1005, 0.5]],
            "drain_s": 2,
        },
        seed=0,
    )
    assert r.metrics[f"pending_trimmed:{GROUP}"] == count
    assert r.metrics[f"pending_end:{GROUP}"] == 0 and r.report[GROUP].unseen == 0

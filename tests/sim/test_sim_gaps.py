"""Gaps by sequence number in the simulator: a Pub/Sub subscriber's outage is one gap, all
of it repaired from an untrimmed stream, part of it from a stream capped below its size."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from labs.experiments import EXPERIMENTS
from sim.analysis.gaps import sequence_gaps

RECONNECT = EXPERIMENTS["reconnect"]


def test_an_outage_is_one_gap_of_rate_times_downtime_all_repaired():
    result = sim.run(RECONNECT.build_scenario(rate_per_s=200.0, down_for_s=0.5), seed=0)
    m = result.metrics
    # Constant arrivals every 5 ms, no reconnect delay: exactly the 100 messages published
    # in the half-second away.
    assert m["gaps_detected:subscriber:0"] == 1
    assert m["missed:subscriber:0"] == result.report["subscriber:0"].lost == 100
    assert m["repaired:subscriber:0"] == 100 and m["still_missing:subscriber:0"] == 0
    assert m["reordered:subscriber:0"] == 0


def test_a_stream_capped_below_the_gap_repairs_only_what_it_kept():
    result = sim.run(RECONNECT.build_scenario(stream_maxlen=50), seed=0)
    m = result.metrics
    # The stream holds the newest 50 when the gap is seen, the revealing message among them.
    assert m["repaired:subscriber:0"] == 49
    assert m["still_missing:subscriber:0"] == m["missed:subscriber:0"] - 49


def test_without_repair_a_scenario_reports_no_gap_metrics():
    # The loss lesson's subscriber has an outage too but no repair stream: its metrics are
    # what they were before the gap metrics existed.
    result = sim.run(EXPERIMENTS["loss"].build_scenario(), seed=0)
    assert result.report["subscriber:0"].lost > 0
    assert not any(k.startswith(("gaps_detected", "missed", "repaired")) for k in result.metrics)


def test_sequence_gaps_counts_holes_steps_back_and_the_undetected_tail():
    g = sequence_gaps(np.array([0, 2, 1, 3, 6]), sent=8)
    assert (g.gaps_detected, g.missed, g.reordered, g.undetected) == (2, 3, 1, 1)
    assert sequence_gaps(np.array([], np.int64), sent=3).undetected == 3


@pytest.mark.parametrize(
    ("kwargs", "name"), [({"sent": -1}, "sent"), ({"sent": 3, "stream_maxlen": -2}, "maxlen")]
)
def test_bad_input_names_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        sequence_gaps(np.array([0]), **kwargs)

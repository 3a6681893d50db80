"""Lesson 0's baseline on the real brokers: one event at a time through each, every one
timed, nothing left behind, and its figure in the house style."""

from __future__ import annotations

import numpy as np
import pytest

from labs.baseline import latencies, plot_latencies
from labs.stack.leftovers import find
from sim.analysis.style import problems

pytestmark = pytest.mark.brokers


def test_every_event_is_timed_through_each_broker_and_nothing_is_left():
    result = latencies(count=12)
    for ms in (result.redis_ms, result.kafka_ms):
        assert len(ms) == 12 and all(np.isfinite(ms)) and min(ms) > 0, result
    # send().get() waits for the broker's acknowledgement before the consumer can fetch the
    # record, and no single event may exceed the per-event deadline (10 s)
    assert max(result.kafka_ms) < 10_000 and max(result.redis_ms) < 10_000, result
    fig = plot_latencies(result)
    assert problems(fig) == []
    assert "Redis Pub/Sub" in fig.axes[0].get_title() and "Kafka" in fig.axes[0].get_title()
    assert not [line for line in find().lines() if "baseline" in line]


@pytest.mark.parametrize("count", [0, 1001, 2.5, True])
def test_a_count_out_of_range_is_refused_with_its_range(count):
    with pytest.raises(ValueError, match=r'"count" must be an integer in 1\.\.1000'):
        latencies(count=count)

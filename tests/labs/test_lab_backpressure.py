"""Backpressure lab: Redis drops the slow subscriber; Kafka lags and recovers."""

from __future__ import annotations

import pytest

from labs.backpressure import CONFIG_KEY, run_backpressure
from labs.clients import redis_client
from labs.lessons import check

pytestmark = pytest.mark.brokers


def test_slow_subscriber_dropped_slow_consumer_lags():
    r = redis_client()
    before = r.config_get(CONFIG_KEY)[CONFIG_KEY]
    result = run_backpressure()
    assert r.config_get(CONFIG_KEY)[CONFIG_KEY] == before  # restored
    r.close()
    # The lesson (labs.lessons): Redis drops the slow subscriber once and it loses messages;
    # queue keeps all, shed drops beyond its bound, degrade keeps the newest per key; the
    # Kafka consumer loses nothing, builds the backlog 60 msg/s leaves, and catches up.
    assert check("backpressure", result) == []

"""Backpressure lab: Redis drops the slow subscriber; Kafka lags and recovers."""

from __future__ import annotations

import pytest

from labs.backpressure import CONFIG_KEY, run_backpressure
from labs.clients import redis_client

pytestmark = pytest.mark.brokers


def test_slow_subscriber_dropped_slow_consumer_lags():
    r = redis_client()
    before = r.config_get(CONFIG_KEY)[CONFIG_KEY]
    result = run_backpressure()
    assert r.config_get(CONFIG_KEY)[CONFIG_KEY] == before  # restored
    r.close()
    m = result.metrics
    rep = result.report
    slow = rep["subscriber:slow"]
    assert m["disconnects:subscriber:slow"] == 1
    assert m["server_dropped_client:subscriber:slow"] == 1.0
    assert slow.lost > 0
    # Policies: queue keeps everything, shed drops what exceeds its bound, degrade keeps
    # the newest message per key.
    assert rep["subscriber:queue"].lost == 0
    assert rep["subscriber:shed"].lost == m["shed:subscriber:shed"] > 0
    assert rep["subscriber:degrade"].lost == m["superseded:subscriber:degrade"] > 0
    assert m["latest_state_correct:subscriber:degrade"] == 1.0
    kafka = rep["group:slow"]
    assert (kafka.lost, kafka.unseen, kafka.duplicated) == (0, 0, 0)
    # The consumer's backlog when publishing ended: sent minus what 60 msg/s could process
    # since the start (the publisher may run below its 200 msg/s on a loaded machine).
    sent_t = result.history.publish_time
    backlog = sent_t.size - 60.0 * sent_t[-1]
    assert backlog > 50
    # The shed subscriber's local queue had the same backlog, bounded at 20.
    assert m["shed:subscriber:shed"] >= 0.5 * (backlog - 20)
    assert m["peak_lag:group:slow"] >= 0.7 * backlog
    assert m["catch_up_s:group:slow"] > 0

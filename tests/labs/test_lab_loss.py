"""Loss lab: Pub/Sub loses what the subscriber missed while down; Kafka loses nothing."""

from __future__ import annotations

import pytest

from labs.loss import run_loss

pytestmark = pytest.mark.brokers


def _check_loss(result, *, rate: float, down_for: float) -> None:
    m = result.metrics
    sub = result.report["subscriber:0"]
    grp = result.report["group:0"]
    # The subscriber lost at least what was published while nobody was subscribed, and at
    # most everything after the last message it read, up to the confirmation of its new
    # subscription (bounds from the recorded close / SUBSCRIBE / confirmation times).
    assert m["lost_min:subscriber:0"] <= sub.lost <= m["lost_max:subscriber:0"]
    assert sub.lost >= 0.5 * rate * down_for  # the publisher kept (at least half) its rate
    assert sub.unseen == 0  # Pub/Sub keeps nothing: missing means lost
    # PUBLISH said 0 receivers for every message sent while nobody was subscribed; each of
    # those is lost (the subscriber may also lose a few that were counted but unread).
    assert 0 < m["publish_zero_receivers"] <= sub.lost
    # Kafka: zero lost, nothing left unprocessed, nothing processed twice.
    assert grp.acknowledged == sub.acknowledged
    assert (grp.lost, grp.unseen, grp.duplicated) == (0, 0, 0)
    assert grp.processed == grp.acknowledged
    # The backlog is at least what arrived while the consumer was away; the lag series is
    # sampled every 50 ms, so allow what arrives in two samples (Poisson: with a margin).
    assert m["peak_lag:group:0"] >= m["sent_while_down:group:0"] - 0.1 * rate - 5
    assert m["catch_up_s:group:0"] > 0


def test_default_loss_redis_loses_kafka_does_not():
    result = run_loss()
    _check_loss(result, rate=200.0, down_for=1.5)
    assert result.settings["kafka.acks"] == "all"
    assert set(result.series) == {"lag:group:0"}


def test_loss_with_poisson_arrivals_and_partitions():
    result = run_loss(
        rate_per_s=300.0,
        window_s=2.0,
        down_from_s=0.5,
        down_for_s=0.5,
        partitions=3,
        arrivals="poisson",
        service_rate_per_s=900.0,
        seed=7,
    )
    _check_loss(result, rate=300.0, down_for=0.5)

"""Loss lab: Pub/Sub loses what the subscriber missed while down; Kafka loses nothing."""

from __future__ import annotations

import pytest

from labs.lessons import check
from labs.loss import run_loss

pytestmark = pytest.mark.brokers


def _check_loss(result) -> None:
    # The lesson (labs.lessons: bounds on Pub/Sub's loss, Kafka loses nothing, lag, catch-up).
    assert check("loss", result) == []


def test_default_loss_redis_loses_kafka_does_not():
    result = run_loss()
    _check_loss(result)
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
    _check_loss(result)

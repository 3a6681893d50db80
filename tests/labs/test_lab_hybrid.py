"""Hybrid lab: notifications are lost during an outage; the view is rebuilt from Kafka."""

from __future__ import annotations

import pytest

from labs.hybrid import run_hybrid
from labs.lessons import check

pytestmark = pytest.mark.brokers


def test_view_rebuilt_from_kafka():
    result = run_hybrid()
    # The lesson (labs.lessons): the bridge loses nothing, the live view loses what was
    # published while away (within the recorded bounds) and shows wrong balances, the view
    # rebuilt from Kafka is right.
    assert check("hybrid", result) == []

"""Fixtures for every real-broker test (labs, twins, resilience).

Tests marked ``brokers`` need the course's Redis and Kafka. If either is unreachable the
test FAILS (never skips) with the one-line message that says how to start them -- a CI run
without brokers must not pass by skipping the labs.
"""

from __future__ import annotations

import pytest

from labs.clients import BrokerUnavailable, require_brokers


@pytest.fixture(scope="session")
def brokers() -> None:
    """Both brokers answer, or the test fails with how to start them."""
    try:
        require_brokers()
    except BrokerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(autouse=True)
def _brokers_for_marked_tests(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("brokers") is not None:
        request.getfixturevalue("brokers")

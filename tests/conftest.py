"""Fixtures for every real-broker test (labs, twins, resilience), and the suite's three parts.

Tests marked ``brokers`` need the course's Redis and Kafka. If either is unreachable the
test FAILS (never skips) with the one-line message that says how to start them -- a CI run
without brokers must not pass by skipping the labs.

The tests in :data:`suite_parts.CPU_ONLY` (the simulator, the course's files, the offline
twins and parameter checks: no broker, no server or timing of their own) are marked ``cpu``:
``make unit`` runs them on both cores (pytest-xdist); then the real-broker files in
:data:`suite_parts.PAIRED` (they mostly wait: rebalances, timeouts, a JVM starting), marked
``paired``, two at a time; then every other test one at a time, so that nothing else runs
beside a real-broker measurement. A new test file is in the last part unless it is listed.
"""

from __future__ import annotations

import pytest
from suite_parts import cpu_only, paired  # a sibling module (tests/ is on the path)

from labs.clients import BrokerUnavailable, require_brokers


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("brokers") is None and cpu_only(item.path):
            item.add_marker(pytest.mark.cpu)
        elif paired(item.path):
            item.add_marker(pytest.mark.paired)


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

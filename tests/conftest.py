"""Fixtures for every real-broker test (labs, twins, resilience), and the suite's two parts.

Tests marked ``brokers`` need the course's Redis and Kafka. If either is unreachable the
test FAILS (never skips) with the one-line message that says how to start them -- a CI run
without brokers must not pass by skipping the labs.

The tests in :data:`CPU_ONLY` (the simulator, the course's files, the offline twins and
parameter checks: no broker, no server or timing of their own) are marked ``cpu``:
``make unit`` runs them on both cores (pytest-xdist), then every other test one at a time,
so that nothing else runs beside a real-broker measurement. A new test file is in the second
part unless it is listed here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from labs.clients import BrokerUnavailable, require_brokers

TESTS = Path(__file__).resolve().parent
#: Files and folders (relative to ``tests/``) whose tests need no broker, start no process
#: that listens, and measure no time: they may run beside each other.
CPU_ONLY = (
    "sim/",
    "course/",
    "test_architecture.py",
    "test_reference_pages.py",
    "test_suite_parts.py",
    "labs/test_experiments.py",
    "labs/test_lab_params.py",
    "twins/test_twins_offline.py",
    "twins/test_twin_throughput_offline.py",
    "cluster/test_cluster_static.py",
    "stack/test_static_files.py",
)


def cpu_only(path: Path) -> bool:
    """The test file at ``path`` is listed in :data:`CPU_ONLY` (a file outside ``tests/``,
    such as a lesson nbval runs, is not)."""
    path = path.resolve()
    if not path.is_relative_to(TESTS):
        return False
    rel = path.relative_to(TESTS).as_posix()
    return any(
        rel == entry or (entry.endswith("/") and rel.startswith(entry)) for entry in CPU_ONLY
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("brokers") is None and cpu_only(item.path):
            item.add_marker(pytest.mark.cpu)


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

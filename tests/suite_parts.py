"""The suite's two parts (``make unit``): the test files listed here are marked ``cpu`` by
``tests/conftest.py`` and run on both cores; every other one runs alone. Kept out of the
conftest so that tests can import it by a name no other module has."""

from __future__ import annotations

from pathlib import Path

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

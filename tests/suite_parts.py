"""The suite's three parts (``make unit``): the files in :data:`CPU_ONLY` are marked ``cpu``
by ``tests/conftest.py`` and run on both cores; those in :data:`PAIRED` are marked
``paired`` and run two at a time; every other one runs alone. Kept out of the conftest so
that tests can import it by a name no other module has."""

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


#: Real-broker test files that mostly *wait* -- for a consumer group's rebalance, a session
#: timeout, the log cleaner, a JVM to start -- and may run beside one another (two at a
#: time, a file to a worker): measured alone on a 2-vCPU machine they kept 0.13-0.75 cores
#: busy, brokers included, 0.85 on average over the whole real-broker part. Each uses names
#: of its own (or a private stack); none changes what the shared brokers do for everyone
#: (``CONFIG SET``, a frozen or stopped broker) or counts something global (every tracking
#: connection, every topic, every private server): :data:`GLOBAL_STATE` lists what a paired
#: file may not say. Measurements of speed (the throughput lab, the 30 s twins), the
#: four-learner workshop, the clusters, the lab that sets Redis's output-buffer limit and
#: the files that count private servers stay alone.
PAIRED = (
    "course/test_exercise_variants_kafka_depth.py",
    "labs/test_compaction.py",
    "labs/test_lab_ordering.py",
    "labs/test_lab_progress.py",
    "labs/test_lab_rebalance.py",
    "labs/test_lab_replay.py",
    "stack/test_native_stack.py",
    "twins/test_twin_cache_staleness.py",
    "twins/test_twin_rebalance.py",
    "twins/test_twin_retention.py",
    "twins/test_twin_zombie.py",
    "twins/test_twins_brokers.py",
)
#: What a :data:`PAIRED` file must not contain: it would change or count the shared brokers'
#: state under the file beside it. Only the test file's own text is read: a lab it runs that
#: did so would not show, which is why the one lab that does (backpressure's ``CONFIG SET``)
#: is named here by its name.
GLOBAL_STATE = (
    "config_set",
    "CONFIG SET",
    "backpressure",
    "client_list",
    "CLIENT LIST",
    "_tracking_clients",
    "list_groups",
    "flushall",
    "flushdb",
    "freeze",
    "stack.down",
    "leftovers()",
)


def _listed(path: Path, entries: tuple[str, ...]) -> bool:
    path = path.resolve()
    if not path.is_relative_to(TESTS):
        return False
    rel = path.relative_to(TESTS).as_posix()
    return any(rel == entry or (entry.endswith("/") and rel.startswith(entry)) for entry in entries)


def paired(path: Path) -> bool:
    """The test file at ``path`` is listed in :data:`PAIRED`."""
    return _listed(path, PAIRED)


def cpu_only(path: Path) -> bool:
    """The test file at ``path`` is listed in :data:`CPU_ONLY` (a file outside ``tests/``,
    such as a lesson nbval runs, is not)."""
    return _listed(path, CPU_ONLY)

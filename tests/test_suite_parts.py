"""``make unit`` runs the suite in three parts: the tests marked ``cpu`` on both cores, those
marked ``paired`` two files at a time, then every other one alone (:mod:`tests.conftest`).
These tests keep the split honest: every test is in exactly one part, the listed files
exist, no ``cpu`` file talks to a broker, and no ``paired`` file changes or counts what the
shared brokers hold for everyone."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from suite_parts import CPU_ONLY, GLOBAL_STATE, PAIRED, TESTS, cpu_only

ROOT = TESTS.parent
#: Modules that reach a broker or start a server (and their submodules): a ``cpu`` test file
#: imports none of them. kafka-python's partitioner is a function, not a client.
BROKER_MODULES = (
    "redis",
    "kafka.admin",
    "kafka.consumer",
    "kafka.producer",
    "kafka.client_async",
    "labs.clients",
    "labs.naming",
    "labs.stack.private_redis",
)


def _cpu_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("test_*.py") if cpu_only(p))


def test_every_listed_file_or_folder_exists():
    for entry in CPU_ONLY + PAIRED:
        path = TESTS / entry
        assert path.is_dir() if entry.endswith("/") else path.is_file(), entry


def test_the_makefile_runs_the_three_parts():
    recipe = (ROOT / "Makefile").read_text().split("\nunit:")[1].split("\n\n")[0]
    assert "-n 2 -m cpu" in recipe, recipe
    assert "-n 2 --dist loadfile -m paired" in recipe, recipe
    assert '-m "not cpu and not paired"' in recipe, recipe


def test_a_paired_file_is_a_real_broker_file_that_leaves_the_shared_state_alone():
    """Listed files only (no folder: a new file in it would be paired unread), each marked
    ``brokers`` -- so a listed file in a ``cpu`` folder still goes to this part (the next
    test) -- and free of :data:`GLOBAL_STATE`."""
    offenders = []
    for entry in PAIRED:
        path = TESTS / entry
        text = path.read_text(encoding="utf-8")
        if entry.endswith("/"):
            offenders.append(f"{entry}: a folder, not a file")
        if "pytest.mark.brokers" not in text:
            offenders.append(f"{entry}: not a real-broker test file")
        offenders += [f"{entry}: {w}" for w in GLOBAL_STATE if w.lower() in text.lower()]
    assert offenders == []


def _collected_files(marker: str, files: list[str]) -> set[str]:
    """The files among ``files`` whose tests ``pytest -m marker`` collects."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider"]
        + ["-m", marker, *files],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    ).stdout
    return {line.split("::")[0] for line in out.splitlines() if "::" in line}


def test_the_paired_marker_reaches_the_listed_files_only():
    """A listed twin and a listed ``brokers`` file in a ``cpu`` folder (lesson 16's exercise
    variants) are paired; a lab file and a simulator file outside the list are not."""
    files = [
        "tests/twins/test_twin_zombie.py",
        "tests/course/test_exercise_variants_kafka_depth.py",
        "tests/labs/test_lab_loss.py",
        "tests/sim/test_sim_seed.py",
    ]
    assert _collected_files("paired", files) == set(files[:2])


def test_no_cpu_test_file_imports_a_broker_client():
    offenders = []
    for path in _cpu_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            hits = [
                n
                for n in names
                if n == "kafka" or any(n == m or n.startswith(m + ".") for m in BROKER_MODULES)
            ]
            offenders += [f"{path.relative_to(TESTS)}: {n}" for n in hits]
    assert offenders == []


def test_real_broker_tests_are_never_in_the_cpu_part():
    """A ``brokers`` test in a listed folder (lesson 16's exercise variants) stays out; a
    listed simulator file goes in; a lab file outside the list stays out."""
    files = [
        "tests/course/test_exercise_variants_kafka_depth.py",
        "tests/sim/test_sim_seed.py",
        "tests/labs/test_lab_loss.py",
    ]
    assert _collected_files("cpu", files) == {"tests/sim/test_sim_seed.py"}

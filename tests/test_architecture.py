"""The shape of the code: layers without cycles, one place per concept, small modules.

Imports are read with ``ast`` from the source (module level only: an import inside a
function runs late and cannot make an import cycle at load time); nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sim", "labs")
#: The style guide's limit.
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    """Dotted module name -> path, for every module of the packages."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The project modules ``name`` imports at module level."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in tree.body:  # module level only
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_walk_sees_the_imports():
    """The walk finds real edges (a walk that finds nothing would pass every rule)."""
    assert "sim.core.faults" in GRAPH["sim.core.scenario"]
    assert "sim.models.registry" in GRAPH["sim.core.engine"]
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]


@pytest.mark.parametrize("pkg", PACKAGES)
def test_no_import_cycle(pkg):
    graph = {n: {m for m in e if m.split(".")[0] == pkg} for n, e in GRAPH.items()}
    graph = {n: e for n, e in graph.items() if n.split(".")[0] == pkg}
    assert _cycle(graph) is None


def test_the_simulator_never_imports_the_labs():
    wrong = {n: sorted(e) for n, e in GRAPH.items() if n.split(".")[0] == "sim"}
    wrong = {n: [m for m in e if m.split(".")[0] == "labs"] for n, e in wrong.items()}
    assert {n: e for n, e in wrong.items() if e} == {}


def _all_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_no_mock_in_the_code():
    """Real parts: no module of sim or labs imports a mock (anywhere in it)."""
    found = {
        name: sorted(m for m in _all_imports(path) if "mock" in m.split("."))
        for name, path in MODULES.items()
    }
    assert {n: m for n, m in found.items() if m} == {}


def test_one_fault_class():
    """One concept, one place: a single ``class Fault`` in sim and labs."""
    found = [
        f"{name}:{node.lineno}"
        for name, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef) and node.name == "Fault"
    ]
    assert len(found) == 1 and found[0].startswith("sim.core.faults:"), found


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name]} has {lines} lines (at most {MAX_LINES})"


def test_no_merge_conflict_left_in_a_tracked_file():
    # A conflicted merge once left <<<<<<< / >>>>>>> blocks in ARCHITECTURE.md unnoticed.
    import subprocess

    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    marked = []
    for name in files:
        path = ROOT / name
        if not path.is_file() or path.suffix in {".png", ".ico", ".woff2"}:
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            continue
        if any(ln.startswith(("<<<<<<< ", ">>>>>>> ")) for ln in lines):
            marked.append(name)
    assert not marked, f"merge conflict markers in: {marked}"

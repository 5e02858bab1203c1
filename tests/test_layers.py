"""The layer contract of docs/architecture.md, read from the code's imports (all of them).

Layers, each importing only downwards::

    aircarbon.core                                     ground floor
    ingest | transforms | warehouse | expectations     siblings: never import each other
    aircarbon.pipeline | aircarbon.bulletin | aircarbon.analyst
    aircarbon.commands | dags
    aircarbon.cli (registers the commands) → aircarbon.__main__

``aircarbon.simulator`` is a client of the system: it may import any layer below the CLI, and
nothing in production imports it (only the CLI's ``simulate``/``demo`` commands do). Imports
inside functions and under ``TYPE_CHECKING`` count: a lazy import is still a dependency.
Module cycles are refused too, anywhere.

The graph is read with :mod:`ast` (no import is executed), so the test is fast and sees the
imports a run might never reach.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("aircarbon", "ingest", "transforms", "warehouse", "expectations", "dags")

#: Layer of each top-level unit; a unit may import units of a strictly lower layer (and itself).
LAYERS: dict[str, int] = {
    "aircarbon.core": 0,
    "ingest": 1,
    "transforms": 1,
    "warehouse": 1,
    "expectations": 1,
    "aircarbon.pipeline": 2,
    "aircarbon.bulletin": 2,
    "aircarbon.analyst": 2,
    "aircarbon.simulator": 3,
    "aircarbon.commands": 4,
    "dags": 4,
    "aircarbon.cli": 5,  # registers the commands
    "aircarbon.__main__": 6,
    "aircarbon": 6,  # the package's __init__
}
#: Units of the top layer that may import the simulator (the commands that drive it).
SIMULATOR_CLIENTS = frozenset({"aircarbon.commands", "aircarbon.cli"})


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _unit(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "aircarbon" and len(parts) > 1:
        return f"aircarbon.{parts[1]}"
    return parts[0]


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _type_only_lines(tree: ast.AST) -> set[int]:
    """Lines of imports under ``if TYPE_CHECKING:`` (annotations only, never run)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for child in node.body:
                lines.update(n.lineno for n in ast.walk(child) if hasattr(n, "lineno"))
    return lines


def _imports(module: str, path: Path, known: frozenset[str]) -> Iterator[tuple[str, int, bool]]:
    """(imported module, line, type only) for every import of the file, lazy ones included.

    ``from pkg import sub`` counts as importing ``pkg.sub`` when ``sub`` is a module.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = _type_only_lines(tree)
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, node.lineno in type_only
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield (sub if sub in known else target), node.lineno, node.lineno in type_only


def _graph(*, runtime_only: bool = False) -> dict[str, set[tuple[str, int]]]:
    modules = _modules()
    known = frozenset(modules)
    graph: dict[str, set[tuple[str, int]]] = {}
    for module, path in modules.items():
        edges: set[tuple[str, int]] = set()
        for imported, line, type_only in _imports(module, path, known):
            if imported.split(".")[0] not in PACKAGES or (runtime_only and type_only):
                continue
            target = imported
            # resolve to the longest known module (a name imported from a module is not one)
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != module:
                edges.add((target, line))
        graph[module] = edges
    return graph


GRAPH = _graph()
#: Imports that run (TYPE_CHECKING ones left out): what can make a cycle at import time.
RUNTIME = _graph(runtime_only=True)


def test_every_unit_has_a_layer() -> None:
    """A new package must be placed in the picture before it can be imported."""
    units = {_unit(m) for m in GRAPH}
    assert units <= set(LAYERS), f"units without a layer: {sorted(units - set(LAYERS))}"


def _violations() -> list[str]:
    found = []
    for module, edges in sorted(GRAPH.items()):
        source = _unit(module)
        for target, line in sorted(edges):
            dest = _unit(target)
            if dest == source:
                continue
            where = f"{module}:{line} imports {target}"
            if dest == "aircarbon.simulator" and source not in SIMULATOR_CLIENTS:
                found.append(f"{where} (production code must not import the simulator)")
            elif LAYERS[dest] >= LAYERS[source] and dest != "aircarbon.simulator":
                found.append(f"{where} ({source} is layer {LAYERS[source]}, {dest} {LAYERS[dest]})")
    return found


def test_imports_point_down() -> None:
    assert _violations() == []


def test_no_import_cycles() -> None:
    """Tarjan's strongly connected components over modules: every component must be one module.

    Over the imports that run (lazy ones included); a type-only import back is not a cycle.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target, _line in RUNTIME.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert cycles == [], "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The rules are live: an upward import written the way the code writes them is caught."""
    source = "def f() -> None:\n    from aircarbon.pipeline.hourly import process_hour\n"
    path = ROOT / "ingest" / "_layer_probe.py"
    assert not path.exists()
    edges = set(_imports("ingest._layer_probe", _write(tmp_path, source), frozenset(GRAPH)))
    assert ("aircarbon.pipeline.hourly", 2, False) in edges
    assert LAYERS[_unit("aircarbon.pipeline.hourly")] > LAYERS[_unit("ingest._layer_probe")]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "probe.py"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("module", "expected"),
    [("aircarbon.core.settings", 0), ("ingest.collector", 1), ("dags.aircarbon_daily", 4)],
)
def test_units_are_placed(module: str, expected: int) -> None:
    assert LAYERS[_unit(module)] == expected

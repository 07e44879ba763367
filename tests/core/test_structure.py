"""The layering a newcomer can rely on: the core's runtime imports form no cycle, and adapters
use only the package root and the adapter contract (``web_performance_monitor.adapter``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import web_performance_monitor
from web_performance_monitor import adapter

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "core" / "web_performance_monitor"
ADAPTERS = ("flask_wpm", "django_wpm", "sanic_wpm")


def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Modules imported at run time (module level or inside functions), not for type checks."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            for alias in node.names:  # ``from . import sampler`` imports a submodule
                found.add(f"{target}.{alias.name}")
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _core_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in CORE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        imports = _runtime_imports(ast.parse(path.read_text()), name, path.stem == "__init__")
        edges = {target for target in imports if target in files and target != name}
        # Importing a package runs its __init__: a package's parents are imported too.
        graph[name] = edges
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state and (found := walk(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := walk(node)):
            return found
    return None


def test_the_core_has_no_runtime_import_cycle() -> None:
    graph = _core_graph()
    assert "web_performance_monitor.monitor" in graph
    assert _cycle(graph) is None


def test_the_cycle_check_finds_a_cycle() -> None:
    """The check itself: a back-edge (as ``decorator`` once imported ``monitor``) is caught."""
    graph = _core_graph()
    graph["web_performance_monitor.decorator"].add("web_performance_monitor.monitor")
    assert _cycle(graph) is not None


@pytest.mark.parametrize("package", ADAPTERS)
def test_adapters_import_only_the_root_and_the_contract(package: str) -> None:
    allowed = {"web_performance_monitor", "web_performance_monitor.adapter"}
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text())
        used = {target for target in _runtime_imports(tree, package, True)
                if target.startswith("web_performance_monitor")}
        # ``from web_performance_monitor.adapter import X`` also lists ``...adapter.X``.
        stray = {t for t in used if t not in allowed and t.rpartition(".")[0] not in allowed}
        assert not stray, f"{path.relative_to(ROOT)} imports {sorted(stray)}"


def test_the_contract_exports_what_it_lists() -> None:
    for name in adapter.__all__:
        assert getattr(adapter, name) is not None, name


def test_version_comes_from_the_installed_metadata() -> None:
    from importlib.metadata import version

    assert web_performance_monitor.__version__ == version("web-performance-monitor")

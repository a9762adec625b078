"""No import cycle among Dockit's modules, counting imports inside functions too.

A function-level import may defer a heavy module or an optional driver; it must not hide a
cycle (two modules that each need the other), which makes the import order matter and
breaks as soon as someone moves the import to the top. Imports under ``TYPE_CHECKING`` do
not run, so they do not count.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("libdockit", "dockit_server")


def modules(root: Path) -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, is a package) for every module of :data:`PACKAGES`."""
    found = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _runtime_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        yield from _runtime_imports(child)


def imported(name: str, path: Path, is_package: bool, known: set[str]) -> set[str]:
    """The modules of ``known`` that module ``name`` imports when it runs."""
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        submodules = {f"{base}.{alias.name}" for alias in node.names} & known
        found.update(submodules)
        if len(submodules) < len(node.names):  # names from the module itself
            found.add(base)
    return (found & known) - {name}


def cycles(root: Path) -> list[list[str]]:
    """Every group of modules that import each other (strongly connected, Tarjan)."""
    found = modules(root)
    known = set(found)
    graph = {name: imported(name, *found[name], known) for name in found}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(name: str) -> None:
        order[name] = low[name] = len(order)
        stack.append(name)
        for other in graph[name]:
            if other not in order:
                visit(other)
                low[name] = min(low[name], low[other])
            elif other in stack:
                low[name] = min(low[name], order[other])
        if low[name] == order[name]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == name:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for name in sorted(graph):
        if name not in order:
            visit(name)
    return groups


def test_no_import_cycles() -> None:
    assert cycles(ROOT) == []


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    package = tmp_path / "dockit_server"
    package.mkdir()
    (tmp_path / "libdockit").mkdir()
    (package / "__init__.py").write_text("")
    (package / "first.py").write_text("from .second import helper\n")
    (package / "second.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from . import third\n"
        "def helper() -> None:\n    from .first import helper\n"
    )
    (package / "third.py").write_text("from . import second\n")
    assert cycles(tmp_path) == [["dockit_server.first", "dockit_server.second"]]

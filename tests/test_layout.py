"""The layout's import rules (README.md, "How the pieces fit"; docs/layout.md).

Every import in helpdesk_app/, sandbox/ and workflows/ is read from the source, lazy ones
inside functions included, and each part may import only the parts below it:

    the root (factory, worker)  ->  cli, the sandbox seam  ->  web  ->  engine
        ->  upstreams, access  ->  storage  ->  settings, errors, security, metrics, workflows

`workflows` (the domain) imports nothing of the service; only `helpdesk_app.sandboxing` imports the
sandbox; and no two modules import each other, directly or round a circle, when loaded.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("helpdesk_app", "sandbox", "workflows")

# part -> rank; a module may import its own part and any part of a lower rank.
RANKS = {
    "workflows": 0,  # the domain: everything may use it, it uses nothing
    "helpdesk_app.settings": 0, "helpdesk_app.errors": 0, "helpdesk_app.logs": 0, "helpdesk_app.security": 0,
    "helpdesk_app.metrics": 0,  # counters every part increments; imports only prometheus_client
    "helpdesk_app.storage": 1,
    "helpdesk_app.upstreams": 2, "helpdesk_app.access": 2,
    "helpdesk_app.engine": 3,
    "helpdesk_app.web": 4,
    "helpdesk_app.cli": 5, "helpdesk_app.sandboxing": 5,
    "helpdesk_app": 6,  # the factory, the worker entry, the sandbox seam
    "sandbox": 7,  # a stand-in for the upstreams, built on the service's own parts
}
SEAM = "helpdesk_app.sandboxing"


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def part_of(module: str) -> str:
    return max((p for p in RANKS if module == p or module.startswith(p + ".")), key=len)


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, *, top_level_only: bool = False) -> set[str]:
    """The project's modules `module` imports (a name imported from a package counts as
    the submodule when it is one)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, path, node)
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                found.add(candidate if candidate in MODULES else source)
    return {m for m in found if m.split(".")[0] in PACKAGES and m != module}


def violations() -> list[str]:
    found = []
    for module in sorted(MODULES):
        for imported in sorted(imports_of(module)):
            if imported.split(".")[0] == "sandbox" and part_of(module) != "sandbox":
                if module != SEAM:
                    found.append(f"{module} imports {imported}: only {SEAM} may reach the sandbox")
            elif RANKS[part_of(imported)] > RANKS[part_of(module)]:
                found.append(f"{module} ({part_of(module)}) imports {imported} ({part_of(imported)}), "
                             "a part above it")
            elif part_of(module) == "workflows" and part_of(imported) != "workflows":
                found.append(f"{module} imports {imported}: workflows/ is pure")
    return found


def circles() -> list[list[str]]:
    """Strongly connected groups of more than one module in the import-time graph."""
    graph = {m: imports_of(m, top_level_only=True) & MODULES.keys() for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return groups


def test_every_module_belongs_to_a_part():
    assert all(part_of(m) in RANKS for m in MODULES)
    assert {"helpdesk_app.web.sidebar", "helpdesk_app.engine.leases", "helpdesk_app.storage.audit",
            "sandbox.gitlab_api"} <= MODULES.keys()


def test_imports_point_down_and_reach_the_sandbox_only_through_the_seam():
    assert violations() == []


def test_no_import_circles():
    assert circles() == []



@pytest.mark.parametrize("source, expected", [
    ("from helpdesk_app.web import services_of\n", "a part above it"),
    ("from sandbox import Sandbox\n", "only helpdesk_app.sandboxing may reach the sandbox"),
])
def test_the_rules_catch_an_import_that_breaks_them(monkeypatch, tmp_path, source, expected):
    bad = tmp_path / "bad.py"
    bad.write_text(source)
    monkeypatch.setitem(MODULES, "helpdesk_app.storage.bad", bad)
    assert any(expected in v for v in violations() if v.startswith("helpdesk_app.storage.bad"))


def test_the_circle_check_finds_a_circle(monkeypatch, tmp_path):
    first, second = tmp_path / "first.py", tmp_path / "second.py"
    first.write_text("from helpdesk_app.storage import second\n")
    second.write_text("import helpdesk_app.storage.first\n")
    monkeypatch.setitem(MODULES, "helpdesk_app.storage.first", first)
    monkeypatch.setitem(MODULES, "helpdesk_app.storage.second", second)
    assert ["helpdesk_app.storage.first", "helpdesk_app.storage.second"] in circles()

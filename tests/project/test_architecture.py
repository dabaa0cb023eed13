"""The shape of the package: one package per pipeline stage, no import cycles, small modules.

The import graph is computed from the source (every ``import``/``from`` inside ``apkaudit/``,
including those inside functions), so a lazy import cannot hide a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "apkaudit"
MAX_LINES = 500
MAX_TOP_LEVEL = 8
# Stages whose code the report must not import: renderers are pure functions of a Report.
ANALYSIS = ("load", "manifest", "code", "coverage", "behaviour")
STAGES = ("load", "manifest", "code", "coverage", "behaviour", "rules", "policies", "report")
# Known debt being paid off during the renovation (issue 13): each entry is an expected failure
# (strict, so fixing it fails the run until the entry is removed here).
DEBT: set[str] = set()


@pytest.fixture(autouse=True)
def _known_debt(request: pytest.FixtureRequest) -> None:
    if request.node.name in DEBT:
        request.applymarker(pytest.mark.xfail(strict=True, reason="renovation in progress"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The apkaudit modules one module imports (a package import counts as its __init__)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {name: _imports(path, name, known) for name, path in mods.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _parent_packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph without the edges from a module to the packages that contain it (importing
    ``apkaudit.code.dex`` runs ``apkaudit/code/__init__.py``; that is not a cycle of code)."""
    return {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}


def test_no_import_cycles() -> None:
    assert _cycles(_parent_packages(_graph())) == []


def test_no_cycles_between_stage_packages() -> None:
    def stage(mod: str) -> str:
        parts = mod.split(".")
        return parts[1] if len(parts) > 2 or (PKG / parts[-1]).is_dir() else mod

    graph: dict[str, set[str]] = {}
    for mod, deps in _graph().items():
        s = stage(mod)
        graph.setdefault(s, set()).update(stage(d) for d in deps if stage(d) != s)
    for deps in graph.values():
        deps &= set(graph)
    assert _cycles(graph) == []


def test_top_level_is_small_and_shows_the_pipeline() -> None:
    top = sorted(p.name for p in PKG.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL, top
    for stage in (*STAGES, "corpus", "cli"):
        init = PKG / stage / "__init__.py"
        assert init.is_file(), f"apkaudit/{stage}/ is missing"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and "TODO" not in doc, f"apkaudit/{stage}/__init__.py needs a docstring"


@pytest.mark.parametrize("name", sorted(_modules()))
def test_module_is_small(name: str) -> None:
    lines = _modules()[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines (limit {MAX_LINES})"


def test_report_does_not_import_analysis_stages() -> None:
    bad = {
        mod: sorted(d for d in deps if d.split(".")[1] in ANALYSIS)
        for mod, deps in _graph().items()
        if mod.startswith("apkaudit.report")
    }
    assert {m: d for m, d in bad.items() if d} == {}


def test_androguard_is_imported_in_one_module() -> None:
    users = set()
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import) and any(
                a.name.split(".")[0] == "androguard" for a in node.names
            ):
                users.add(name)
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == (
                "androguard"
            ):
                users.add(name)
    assert users == {"apkaudit.manifest.androguard_adapter"}


def test_every_module_is_named_in_the_architecture_doc() -> None:
    """docs/architecture.md's "Packages and modules" table names every module in the row of
    its top-level package (or its own row), so the doc cannot silently fall behind the code."""
    doc = (PKG.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = {
        line.split("`")[1].rstrip("/").removesuffix(".py"): line
        for line in doc.splitlines()
        if line.startswith("| `") and line.count("|") >= 4
    }
    missing = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        if rel.name == "__init__.py":
            continue
        row = rows.get(rel.parts[0].removesuffix(".py"), "")
        if f"`{rel.name}`" not in row:
            missing.append(str(rel))
    assert not missing, f"modules not named in docs/architecture.md's table: {missing}"

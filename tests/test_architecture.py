"""Imports go one way: from the command line down to the records, never back, and no
module imports itself through others (no cycle). The import graph is read from the
source (an AST walk over ``facetflow/``): every ``import`` counts, those inside
functions and ``TYPE_CHECKING`` blocks included, since each is a dependency."""

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "facetflow"

# Bottom first. A module may import from its own layer and the layers below it. ``study``
# (loading a study file: it checks names against the structures' materials and ligands
# and the engines' settings) sits above both.
LAYERS: list[tuple[str, ...]] = [
    ("records", "errors", "logs", "jsonfile", "provenance", "findings", "data"),
    ("structures",),
    ("engines", "presets"),
    ("study",),
    ("store",),
    ("workflows",),
    ("analysis",),
    ("cli",),
]


def module_name(path: Path) -> str:
    """``facetflow/workflows/plan.py`` -> ``facetflow.workflows.plan`` (a package's
    ``__init__.py`` is the package)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    """Index in ``LAYERS`` (the package root, ``facetflow``, is at the bottom)."""
    if module == "facetflow":
        return 0
    top = module.split(".")[1]
    return next((i for i, names in enumerate(LAYERS) if top in names), None)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a ``from ... import`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, known: set[str]) -> list[tuple[str, int]]:
    """(imported facetflow module, line) for every import in ``path``; ``from a import b``
    names ``a.b`` when that is a module, else ``a``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(node, module, path.name == "__init__.py")
            for a in node.names:
                sub = f"{target}.{a.name}"
                out.append((sub if sub in known else target, node.lineno))
    return [(m, line) for m, line in out if m == "facetflow" or m.startswith("facetflow.")]


def import_graph() -> dict[str, list[tuple[str, int]]]:
    """Module -> the facetflow modules it imports (with the line of each import)."""
    mods = modules()
    known = set(mods)
    return {m: [(t, line) for t, line in imports_of(m, p, known) if t in known and t != m]
            for m, p in mods.items()}


def cycles(graph: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w, _ in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer():
    unplaced = [m for m in modules() if layer_of(m) is None]
    assert not unplaced, f"modules in no layer of LAYERS: {unplaced}"


def test_no_import_cycles():
    graph = import_graph()
    found = cycles(graph)
    lines = []
    for component in found:
        members = set(component)
        edges = [f"{m} -> {t} (line {line})" for m in component for t, line in graph[m]
                 if t in members]
        lines.append(" / ".join(component) + ":\n    " + "\n    ".join(edges))
    assert not found, "import cycles:\n" + "\n".join(lines)


def test_imports_point_down():
    upward = []
    for module, targets in import_graph().items():
        here = layer_of(module)
        for target, line in targets:
            there = layer_of(target)
            if here is not None and there is not None and there > here:
                upward.append(f"{module}:{line} imports {target} "
                              f"({'/'.join(LAYERS[here])} -> {'/'.join(LAYERS[there])})")
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(upward)


def test_the_walk_sees_function_local_and_relative_imports(tmp_path):
    """The graph reader itself: an import inside a function and a relative import count."""
    src = tmp_path / "facetflow" / "pkg"
    src.mkdir(parents=True)
    (src / "__init__.py").write_text("")
    mod = src / "mod.py"
    mod.write_text("def f():\n    from facetflow.records import plan\n\nfrom . import other\n")
    known = {"facetflow.records.plan", "facetflow.pkg.other", "facetflow.pkg"}
    parsed = {m for m, _ in imports_of("facetflow.pkg.mod", mod, known)}
    assert parsed == {"facetflow.records.plan", "facetflow.pkg.other"}
    graph = {"a": [("b", 1)], "b": [("c", 2)], "c": [("a", 3)], "d": [("a", 4)]}
    assert cycles(graph) == [["a", "b", "c"]]

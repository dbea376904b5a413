"""The shape the code keeps (issue 15, docs/architecture.md): no import cycles, small modules, backends as packages.

These read the source as text and its import statements (including imports inside functions), so they run in
a second and fail the moment a change brings back a cycle or a 2,000-line module.
"""

from __future__ import annotations

import ast
import pathlib

import napari_segsuite

PACKAGE = pathlib.Path(napari_segsuite.__file__).parent
NAME = "napari_segsuite"

#: limits from issue 15's "Done when"
MAX_MODULE_LINES = 400
MAX_WIDGET_LINES = 300
MAX_LOOSE_CORE_MODULES = 12
MIN_CORE_PACKAGES = 5


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, pathlib.Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    """module -> project modules it imports (anywhere in the file: top level or inside functions).

    ``from pkg import name`` counts as importing ``pkg.name`` when that is a module, else ``pkg``.
    """
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for mod, path in modules.items():
        deps: set[str] = set()
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(mod, path.name == "__init__.py", node)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for t in targets:
                while t and t not in modules:  # import a.b.c -> the deepest project module named
                    t = t.rpartition(".")[0]
                if t.startswith(NAME) and t != mod:
                    deps.add(t)
        graph[mod] = deps
    return graph


def _is_parent_package(a: str, b: str) -> bool:
    """A package importing its own submodule (its ``__init__`` re-exporting) is not a cycle of design."""
    return b.startswith(a + ".")


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), ignoring package -> own submodule."""
    edges = {m: {d for d in ds if not _is_parent_package(m, d)} for m, ds in graph.items()}
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"p": {"p.x"}, "p.x": {"p"}}) == []  # a package and its own submodule


def test_no_import_cycles():
    assert find_cycles(import_graph()) == []


def test_core_never_imports_the_gui_or_the_cli():
    graph = import_graph()
    bad = {m: sorted(d for d in ds if d.startswith((f"{NAME}._napari", f"{NAME}.cli")))
           for m, ds in graph.items() if m.startswith(f"{NAME}.core")}
    assert {m: d for m, d in bad.items() if d} == {}


def test_cli_never_imports_the_gui_except_the_demo():
    graph = import_graph()
    bad = {m: sorted(d for d in ds if d.startswith(f"{NAME}._napari"))
           for m, ds in graph.items() if m.startswith(f"{NAME}.cli") and m != f"{NAME}.cli.demo"}
    assert {m: d for m, d in bad.items() if d} == {}


def test_modules_are_small():
    too_long = {}
    for mod, path in _modules().items():
        n = len(path.read_text().splitlines())
        limit = MAX_WIDGET_LINES if mod.startswith(f"{NAME}._napari") and "widget" in path.name else MAX_MODULE_LINES
        if n > limit:
            too_long[mod] = n
    assert too_long == {}


def test_core_is_made_of_backend_packages():
    core = PACKAGE / "core"
    loose = sorted(p.name for p in core.glob("*.py") if p.name != "__init__.py")
    packages = sorted(p.name for p in core.iterdir() if (p / "__init__.py").is_file())
    assert len(loose) <= MAX_LOOSE_CORE_MODULES, loose
    assert len(packages) >= MIN_CORE_PACKAGES, packages

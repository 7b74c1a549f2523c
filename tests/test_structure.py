"""Module structure: no import cycles among rrl's modules, no private names imported from another module.

Every ``import`` counts, also one inside a function: a lazy import hides a cycle from Python, not from a reader.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

#: Cycles (sets of modules) still allowed. Only a cycle through the training modules (rrl.train, rrl.train_sac,
#: rrl.config, rrl.evaluate, rrl.algos.*, rrl.sampling.*) may be listed here; none is left.
KNOWN_CYCLES: frozenset[frozenset[str]] = frozenset()

#: ``(importing module, imported module, name)`` of private names still imported across modules. Only the
#: training modules named above may be listed here; none is left.
KNOWN_PRIVATE_IMPORTS: frozenset[tuple[str, str, str]] = frozenset()

TRAINING_MODULES = ("rrl.train", "rrl.train_sac", "rrl.config", "rrl.evaluate", "rrl.algos", "rrl.sampling")


def _modules(src: Path, package: str) -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package) for every module of ``package`` under ``src``."""
    out = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def _imports(path: Path, module: str, is_package: bool) -> Iterator[tuple[str, str | None]]:
    """``(imported module, imported name or None)`` for every import statement of a file, at any depth."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                yield source, alias.name


def import_graph(src: Path, package: str = "rrl") -> tuple[dict[str, set[str]], set[tuple[str, str, str]]]:
    """The import graph of ``package`` (module -> modules it imports) and its private cross-module imports
    ``(importer, module, name)``."""
    modules = _modules(src, package)

    def resolve(name: str) -> str | None:  # the innermost module of the package that ``name`` lies in
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in modules}
    private: set[tuple[str, str, str]] = set()
    for module, (path, is_package) in modules.items():
        for source, name in _imports(path, module, is_package):
            full = f"{source}.{name}" if name else source
            target = full if full in modules else resolve(source)
            if target is None or target == module:
                continue
            graph[module].add(target)
            if name and name.startswith("_") and not name.startswith("__") and full not in modules:
                private.add((module, source, name))
    return graph, private


def import_cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.add(frozenset(component))
    return found


def _is_training_module(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in TRAINING_MODULES)


def test_allow_lists_hold_only_training_modules() -> None:
    assert all(any(_is_training_module(m) for m in cycle) for cycle in KNOWN_CYCLES)
    assert all(_is_training_module(a) or _is_training_module(b) for a, b, _ in KNOWN_PRIVATE_IMPORTS)


def test_no_import_cycles() -> None:
    cycles = import_cycles(import_graph(SRC)[0])
    new = [sorted(c) for c in cycles - KNOWN_CYCLES]
    assert not new, f"import cycles among rrl modules (move the shared code to a lower module): {new}"


def test_no_private_names_imported_across_modules() -> None:
    private = import_graph(SRC)[1] - KNOWN_PRIVATE_IMPORTS
    assert not private, f"private names imported from another module (make them public or move them): {private}"


def test_checks_find_a_cycle_and_a_private_import(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("import os\n\n\ndef f():\n    from pkg.sub import c\n")  # the cycle hides in f
    (pkg / "b.py").write_text("from . import a\n")
    (pkg / "sub" / "c.py").write_text("from ..b import _hidden\nfrom pkg import __version__\n")
    (pkg / "d.py").write_text("import pkg.a\n")  # imports into the cycle, is not part of it
    graph, private = import_graph(tmp_path, "pkg")
    assert graph["pkg.sub.c"] == {"pkg.b", "pkg"} and graph["pkg.b"] == {"pkg.a"}
    assert import_cycles(graph) == {frozenset({"pkg.a", "pkg.b", "pkg.sub.c"})}
    assert private == {("pkg.sub.c", "pkg.b", "_hidden")}
    (pkg / "a.py").write_text("import os\n")
    assert import_cycles(import_graph(tmp_path, "pkg")[0]) == set()


#: The layers of rrl, lowest first (docs/structure.md draws them): a module may import its own layer and those
#: below, never one above. A new top-level module or package needs a place here.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("rrl", "rrl.errors", "rrl.paths", "rrl.seeding", "rrl.tasks", "rrl.presets", "rrl.config", "rrl.rendering"),
    ("rrl.policy", "rrl.envs", "rrl.encoders", "rrl.result_folder", "rrl.published", "rrl.checkpoint"),
    ("rrl.demos", "rrl.algos", "rrl.sampling", "rrl.baseline", "rrl.vae"),
    ("rrl.train_sac", "rrl.train_ferm", "rrl.run", "rrl.train"),
    ("rrl.evaluate", "rrl.results", "rrl.explain"),
    ("rrl.experiments", "rrl.report"),
    ("rrl.cli",),
)


def _layer(module: str) -> int:
    top = ".".join(module.split(".")[:2])
    for i, members in enumerate(LAYERS):
        if top in members:
            return i
    raise AssertionError(f"{top} has no layer in tests/test_structure.py LAYERS (and docs/structure.md): place it")


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Edges ``(importer, imported)`` that go from a lower layer to a higher one."""
    return sorted((a, b) for a, targets in graph.items() for b in targets if _layer(a) < _layer(b))


def test_no_upward_imports() -> None:
    graph = import_graph(SRC)[0]
    assert not upward_imports(graph), f"imports from a lower layer into a higher one: {upward_imports(graph)}"
    assert upward_imports({"rrl.envs.rewards": {"rrl.run.loop"}}) == [("rrl.envs.rewards", "rrl.run.loop")]

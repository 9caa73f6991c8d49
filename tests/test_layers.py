"""The package's layering: no import cycle between files or packages, no arrow from a lower layer up.

Every module under src/mfif is parsed with ``ast`` (nothing is imported); each ``import`` /
``from ... import`` of an mfif module is an arrow, at module level or inside a function alike
(``from mfif.x import y`` points at the module ``mfif.x.y`` when it exists, else at ``mfif.x``).
A *package* is a folder under src/mfif (``mfif.fusion.pair`` is in ``fusion``); a top-level module is
its own package (``errors``, ``filters``, ``io``, ...; ``mfif`` is the package's ``__init__``).

LAYERS below is the order documented in docs/overview.md, bottom first. A package may import only
packages of lower layers; packages sharing a layer are peers and import neither each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "mfif"

# Bottom first. Keep in step with docs/overview.md ("Layers").
LAYERS: list[tuple[str, ...]] = [
    ("errors",),
    ("filters",),
    ("options",),
    ("io", "registry"),
    ("metrics",),
    ("models", "postprocess"),
    ("data",),
    ("baselines",),
    ("fusion",),
    ("api",),
    ("mfif",),  # the package's lazy facade (mfif.fuse, mfif.list_methods, ...)
    ("training",),
    ("bench",),
    ("distributed", "web"),
    ("cli",),
    ("__main__",),
]
RANK = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}


def _modules() -> dict[str, Path]:
    mods = {}
    for p in sorted(SRC.rglob("*.py")):
        parts = list(p.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = p
    return mods


def _resolve(target: str, mods: dict[str, Path]) -> str | None:
    while target and target not in mods:
        target = target.rpartition(".")[0]
    return target or None


def import_graph() -> dict[str, set[str]]:
    """Module -> the mfif modules it imports (module-level and function-level imports alike)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for t in targets:
                if t == "mfif" or t.startswith("mfif."):
                    r = _resolve(t, mods)
                    if r and r != name:
                        graph[name].add(r)
    return graph


def package_of(module: str) -> str:
    parts = module.split(".")
    return "mfif" if len(parts) == 1 else parts[1]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    pg: dict[str, set[str]] = {}
    for a, targets in graph.items():
        pg.setdefault(package_of(a), set())
        for b in targets:
            if package_of(a) != package_of(b):
                pg[package_of(a)].add(package_of(b))
    return pg


def _arrows(graph: dict[str, set[str]], pa: str, pb: str) -> list[str]:
    return sorted(f"{a} -> {b}" for a, ts in graph.items() for b in ts if package_of(a) == pa and package_of(b) == pb)


def test_graph_sees_known_arrows() -> None:
    # the parser itself: arrows that exist for sure, at module and at function level
    g = import_graph()
    assert "mfif.errors" in g["mfif.filters"]  # module level
    assert "mfif.filters" in g["mfif.baselines.gff"]  # module level, from-import of names
    assert "mfif.api" in g["mfif"]  # function level (the lazy facade)
    assert "mfif.cli.main" in g["mfif.__main__"]


def test_every_package_has_a_layer() -> None:
    missing = sorted({package_of(m) for m in import_graph()} - set(RANK))
    assert not missing, f"add these packages to LAYERS here and in docs/overview.md: {missing}"


def test_no_cycle_between_files() -> None:
    cycles = _cycles(import_graph())
    assert not cycles, "import cycles between files: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_no_cycle_between_packages() -> None:
    g = import_graph()
    cycles = _cycles(_package_graph(g))
    detail = [f"{' <-> '.join(c)} ({', '.join(x for a in c for b in c if a != b for x in _arrows(g, a, b))})" for c in cycles]
    assert not cycles, "import cycles between packages: " + "; ".join(detail)


def test_no_arrow_from_a_lower_layer_up() -> None:
    g = import_graph()
    bad = []
    for a, targets in sorted(g.items()):
        for b in sorted(targets):
            pa, pb = package_of(a), package_of(b)
            if pa != pb and pa in RANK and pb in RANK and RANK[pb] >= RANK[pa]:
                bad.append(f"{a} -> {b} ({pa} is {'a peer of' if RANK[pb] == RANK[pa] else 'below'} {pb})")
    assert not bad, "arrows against the layer order (tests/test_layers.py LAYERS):\n" + "\n".join(bad)

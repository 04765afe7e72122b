"""No import cycles among Studio's modules (imports inside functions and ``TYPE_CHECKING`` blocks count)."""

from __future__ import annotations

import grimp

# Known cycles left in place, each a sorted tuple of module names with a comment saying why. None today.
ALLOWED_CYCLES: set[tuple[str, ...]] = set()


def import_cycles(graph: grimp.ImportGraph, package: str) -> list[tuple[str, ...]]:
    """The modules of ``package`` that import each other in a circle: the strongly connected components
    (Tarjan's algorithm) of more than one module, or of one module importing itself."""
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    inside = set(modules)
    edges = {m: sorted(inside & graph.find_modules_directly_imported_by(m)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[tuple[str, ...]] = []
    for root in modules:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, next_edge = work.pop()
            if next_edge == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            targets = edges[node]
            if next_edge < len(targets):
                work.append((node, next_edge + 1))
                target = targets[next_edge]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    cycles.append(tuple(sorted(component)))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return cycles


def describe(graph: grimp.ImportGraph, cycle: tuple[str, ...]) -> str:
    lines = [" ↔ ".join(cycle)]
    for importer in cycle:
        for imported in cycle:
            for detail in graph.get_import_details(importer=importer, imported=imported):
                lines.append(f"  {importer}:{detail['line_number']}: {detail['line_contents']}")
    return "\n".join(lines)


def test_studio_has_no_import_cycles() -> None:
    graph = grimp.build_graph("studio", cache_dir=None)
    cycles = [cycle for cycle in import_cycles(graph, "studio") if cycle not in ALLOWED_CYCLES]
    assert not cycles, "Import cycles in studio/:\n" + "\n".join(describe(graph, c) for c in cycles)


def test_the_cycle_finder_finds_cycles() -> None:
    graph = grimp.ImportGraph()
    for importer, imported in [
        ("pkg.a", "pkg.b"),
        ("pkg.b", "pkg.c"),
        ("pkg.c", "pkg.a"),  # a → b → c → a
        ("pkg.c", "pkg.d"),
        ("pkg.e", "pkg.e"),  # imports itself
        ("pkg.f", "other.g"),
        ("other.g", "pkg.f"),  # through a module outside the package: not seen
    ]:
        graph.add_import(importer=importer, imported=imported)
    assert sorted(import_cycles(graph, "pkg")) == [("pkg.a", "pkg.b", "pkg.c"), ("pkg.e",)]

"""The layers' import rules (docs/architecture.md), read from the source with `ast`.

Every import counts: at module level, inside functions, and under `TYPE_CHECKING` (a
cycle only the type checker sees is still two modules that cannot be understood apart).
`from package import submodule` is an import of the submodule, not of the package's
`__init__`, which every submodule runs first anyway.
"""

import ast
from collections.abc import Iterator, Mapping, Set
from functools import cache
from pathlib import Path
from typing import Final

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("contracts", "services", "one_bus")

Graph = Mapping[str, Set[str]]


@cache
def modules() -> dict[str, Path]:
    """Every module of the three layers, by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _project_module(name: str) -> str | None:
    """The module `name` is or lies in (`contracts.subjects.PREFIX` → `contracts.subjects`)."""
    while name and name not in modules():
        name = name.rpartition(".")[0]
    return name or None


def _imported_names(module: str, path: Path) -> Iterator[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield submodule if submodule in modules() else base


@cache
def import_graph() -> dict[str, frozenset[str]]:
    """Module → the project modules it imports."""
    graph: dict[str, frozenset[str]] = {}
    for module, path in modules().items():
        targets = {_project_module(name) for name in _imported_names(module, path)}
        graph[module] = frozenset(t for t in targets if t is not None and t != module)
    return graph


def package_of(module: str) -> str:
    """The unit the package rule speaks of: `contracts`, `one_bus`, and in `services`
    each subpackage (`services.ingest`) or top-level module (`services.settings`)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "services" and len(parts) > 1 else parts[0]


def package_graph() -> dict[str, frozenset[str]]:
    edges: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        own = package_of(module)
        edges.setdefault(own, set()).update(package_of(t) for t in targets)
    return {package: frozenset(t - {package}) for package, t in edges.items()}


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
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
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def imports_from(importer_prefix: str, imported_prefixes: tuple[str, ...]) -> list[str]:
    """`importer → imported` for each import from a module under `importer_prefix` of a
    module under one of `imported_prefixes`."""
    return sorted(
        f"{module} → {target}"
        for module, targets in import_graph().items()
        if _under(module, importer_prefix)
        for target in targets
        if any(_under(target, prefix) for prefix in imported_prefixes)
    )


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_every_layer_and_their_imports() -> None:
    assert {"contracts.subjects", "services.settings", "one_bus.client"} <= modules().keys()
    assert "contracts.subjects" in import_graph()["one_bus.client"]


def test_no_module_is_in_an_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_no_package_is_in_an_import_cycle() -> None:
    assert cycles(package_graph()) == []


def test_contracts_import_nothing_from_services_or_the_sdk() -> None:
    assert imports_from("contracts", ("services", "one_bus")) == []


def test_the_sdk_imports_nothing_from_services() -> None:
    assert imports_from("one_bus", ("services",)) == []


def test_settings_import_nothing_from_services() -> None:
    """Every part of the service reads its settings; they depend on contracts only."""
    assert imports_from("services.settings", ("services", "one_bus")) == []


# What starts a subject or name that only contracts/subjects.py may build: the bus's own
# subjects, the JetStream API, KV buckets and their streams, service discovery.
_SUBJECT_HEADS: Final = ("one.v1", "$JS.", "$KV.", "$SRV.", "KV_")
_SUBJECT_BUILDER: Final = "contracts.subjects"


def _docstrings(tree: ast.Module) -> set[int]:
    """The ids of the docstring nodes of a module, its classes and functions."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _spelled_subjects(source: str, where: str) -> list[str]:
    """The lines (`where:line`) where `source` spells a subject itself: a literal or
    f-string starting like one, an f-string or a sum starting with `PREFIX`."""
    tree = ast.parse(source, where)
    docstrings = _docstrings(tree)
    lines: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.expr):
            continue
        head: object = None
        if isinstance(node, ast.Constant) and id(node) not in docstrings:
            head = node.value
        elif isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            if isinstance(first, ast.Constant):
                head = first.value
            elif isinstance(first, ast.FormattedValue) and isinstance(first.value, ast.Name):
                head = "one.v1" if first.value.id == "PREFIX" else None
        elif isinstance(node, ast.BinOp) and isinstance(node.left, ast.Name):
            head = "one.v1" if node.left.id == "PREFIX" else None
        if isinstance(head, str) and head.startswith(_SUBJECT_HEADS):
            lines.add(node.lineno)
    return [f"{where}:{line}" for line in sorted(lines)]


def test_subjects_and_stream_names_are_built_by_contracts_subjects_only() -> None:
    """Anywhere else a subject, a JetStream API subject or a KV name is asked of the
    builders, so that each is spelled once (the CLI, the console and the benchmarks too)."""
    paths = [path for name, path in modules().items() if name != _SUBJECT_BUILDER]
    paths += sorted((ROOT / "benchmarks").rglob("*.py"))
    spelled = (
        where
        for path in paths
        for where in _spelled_subjects(path.read_text(), str(path.relative_to(ROOT)))
    )
    assert list(spelled) == []


def test_the_subject_check_finds_spelled_subjects_and_not_prose() -> None:
    source = (
        '"""one.v1.<tenant> in a docstring is prose."""\n'
        'A = f"one.v1.{t}.changes.>"\n'
        'B = f"{PREFIX}.{t}.dlq.>"\n'
        'C = PREFIX + "." + t\n'
        'D = "$JS.API.STREAM.NAMES"\n'
        'E = f"expected one.v1.<tenant>..., got {s}"\n'
    )
    assert _spelled_subjects(source, "m") == ["m:2", "m:3", "m:4", "m:5"]

"""PyMongo stays in the MongoDB adapter: query, watch and ingest see only the store port."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ADAPTER = ROOT / "services" / "store" / "mongodb"
DRIVERS = ("pymongo", "bson", "motor")


def _imported(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module.split(".")[0])
    return modules


def _driver_users() -> set[str]:
    users: set[str] = set()
    for package in ("services", "contracts", "one_bus"):
        for path in (ROOT / package).rglob("*.py"):
            if ADAPTER in path.parents:
                continue
            if _imported(path) & set(DRIVERS):
                users.add(path.relative_to(ROOT).as_posix())
    return users


def test_no_module_outside_the_mongodb_adapter_imports_the_driver() -> None:
    assert _driver_users() == set()


def test_the_walk_sees_the_adapter_import_the_driver() -> None:
    # The walk itself finds imports: the adapter's reads do import PyMongo.
    assert "pymongo" in _imported(ADAPTER / "store.py")

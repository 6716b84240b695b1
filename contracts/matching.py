"""How a query's filters match a stored record, compared as the store compares values.

Pure functions over a record as replies and changes carry it (a JSON object). A query's
spec (contracts/queries.py) states its filters with these once; the in-memory store
answers with them and the watch matcher tests each change with them, and the store port's
suite, run against MongoDB too, holds them to what MongoDB's filters match.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Record = Mapping[str, Any]
SortValue = int | str


def value_at(record: Record, path: str) -> Any:
    """The value at a dotted path; None where any step is missing or not an object."""
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _same(actual: Any, expected: Any) -> bool:
    # MongoDB compares numbers by value across int and float, but a boolean is not a number.
    if isinstance(actual, bool) or isinstance(expected, bool):
        return isinstance(actual, bool) and isinstance(expected, bool) and actual == expected
    if isinstance(expected, int | float):
        return isinstance(actual, int | float) and actual == expected
    return type(actual) is type(expected) and actual == expected


def equals(actual: Any, expected: Any) -> bool:
    """MongoDB's equality: the value itself, or an array holding it."""
    if isinstance(actual, list):
        return _same(actual, expected) or any(_same(item, expected) for item in actual)
    return _same(actual, expected)


def all_equal(record: Record, pairs: Iterable[tuple[str, Any]]) -> bool:
    """Every `(path, value)` equality holds; a None value is no filter."""
    return all(
        expected is None or equals(value_at(record, path), expected) for path, expected in pairs
    )


def live(record: Record, include_deleted: bool = False) -> bool:
    """Not soft-deleted (`deletedAt` missing or null), unless deleted ones are asked for."""
    return include_deleted or record.get("deletedAt") is None


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class UnjudgedError(ValueError):
    """A record holds a value of a type no query filter compares (no stored record does:
    every time is an integer); a watch counts it as a "maybe"."""


def within(value: Any, after: int | None = None, before: int | None = None) -> bool:
    """An integer above `after` and below `before` (both exclusive; None: unbounded).

    A missing value is outside any bound, as in MongoDB."""
    if after is None and before is None:
        return True
    if value is None:
        return False
    if not is_int(value):
        raise UnjudgedError(f"not a time: {value!r}")
    return (after is None or value > after) and (before is None or value < before)


@dataclass(frozen=True, slots=True)
class Order:
    """What a list is sorted by: one field, then the document's `_id`, in one direction."""

    field: str
    direction: Literal[1, -1]
    type: type[int] | type[str]

    @property
    def newest_first(self) -> bool:
        return self.direction < 0


def sort_key(value: SortValue) -> tuple[int, int | bytes]:
    """MongoDB's order of sort values: numbers before strings, strings by their UTF-8 bytes
    (no collation)."""
    return (0, value) if isinstance(value, int) else (1, value.encode())

"""Which watches a stored change can affect (pure, no I/O).

A change can alter a watch's result in two ways only: the changed record was in the last
result (it changed or left), or its new state passes the watch's filters (it may enter).
So each watch is indexed under

- *filter keys*: one equality its query pins (`(collection, field, value)`, e.g.
  `("events", "actorId", "user-1")`), or `(collection, "*", None)` for a query that pins
  none, and
- *result keys*: `(collection, record identity)` of every record its last result shows,
  including the records its items embed (the entities of a `connections.list` with
  `withEntities`),

and a change looks up only the keys its record has. A watch found through a filter key
is then checked against its query's filter (`may_enter`): the predicate of the query's
spec (contracts/queries.py), the very one the in-memory store answers with and the store
port's suite holds to MongoDB's filter. A record it cannot judge counts as "yes": a false
"yes" costs one re-evaluation, a false "no" a missed result.
"""

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from contracts.queries import QUERY_SPECS, Query, Watching

Record = Mapping[str, Any]
FilterKey = tuple[str, str, Hashable]
ResultKey = tuple[str, str]

ANY: Final = "*"
"""The filter key field of a query that pins no equality of its collection."""

INDEXED_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "entities": ("id", "type", "status"),
    "connections": ("fromEntityId", "toEntityId"),
    "events": ("actorId", "targetId", "type"),
    "tags": ("entityId", "key"),
}
"""The fields filter keys use, per collection: what a change is looked up by."""


def watching(name: str) -> Watching[Any]:
    """What watching the query `name` needs (its spec's); LookupError if it cannot be."""
    watch = QUERY_SPECS[name].watch
    if watch is None:
        raise LookupError(f"{name!r} cannot be watched")
    return watch


def record_identity(collection: str, record: Record) -> str | None:
    """What identifies a record in its collection (tags have no id: their triple)."""
    if collection == "tags":
        parts = (record.get("entityId"), record.get("key"), record.get("value"))
        if not all(isinstance(part, str) for part in parts):
            return None
        return "\x00".join(parts)  # type: ignore[arg-type]
    value = record.get("id")
    return value if isinstance(value, str) else None


def filter_keys(name: str, request: Query) -> list[FilterKey]:
    """The filter keys a watch of `name` is indexed under: the equalities its spec pins,
    else the first indexed field of its collection the request sets."""
    watch = watching(name)
    collection = watch.collection
    if watch.pins is not None:
        return [(collection, field, value) for field, value in watch.pins(request)]
    for field in INDEXED_FIELDS[collection]:
        value = getattr(request, field, None)
        if value is not None:
            return [(collection, field, value)]
    return [(collection, ANY, None)]


def change_filter_keys(collection: str, record: Record) -> list[FilterKey]:
    """The filter keys under which a change of `record` looks for watches."""
    keys: list[FilterKey] = [(collection, ANY, None)]
    for field in INDEXED_FIELDS.get(collection, ()):
        value = record.get(field)
        if isinstance(value, str):
            keys.append((collection, field, value))
    return keys


def result_keys(name: str, request: Query, result: Any) -> set[ResultKey]:
    """The records a result shows, as `(collection, record identity)`."""
    if result is None:
        return set()
    watch = watching(name)
    collection = watch.collection
    embeds = watch.embeds(request)
    items = result.get("items") if isinstance(result, dict) and "items" in result else [result]
    keys: set[ResultKey] = set()
    for item in items or ():
        if not isinstance(item, dict):
            continue
        identity = record_identity(collection, item)
        if identity is not None:
            keys.add((collection, identity))
        # Embedded records, also where they have not arrived yet (null).
        for embedded, field in embeds:
            if isinstance(item.get(field), str):
                keys.add((embedded, item[field]))
    return keys


@dataclass(frozen=True, slots=True)
class PageEdge:
    """The last item of a full first page: a record sorting after it cannot enter."""

    field: str
    value: int


def page_edge(name: str, request: Query, result: Any) -> PageEdge | None:
    """Where a full first page of a newest-first list ends; None if it is not full."""
    if not isinstance(result, dict) or not result.get("nextCursor") or not result.get("items"):
        return None
    watch = watching(name)
    order = watch.order(request) if watch.order is not None else None
    if order is None or not order.newest_first or order.type is not int:
        return None
    value = result["items"][-1].get(order.field)
    return PageEdge(order.field, value) if isinstance(value, int) else None


def may_enter(name: str, request: Query, record: Record, edge: PageEdge | None = None) -> bool:
    """Whether `record` (a changed record's new state) may show in the watch's result."""
    try:
        if edge is not None:
            value = record.get(edge.field)
            if isinstance(value, int) and value < edge.value:
                return False  # sorts after the last item of a full page
        return watching(name).matches(request, record)
    except Exception:  # a record of an unforeseen shape: re-evaluate rather than miss
        return True

"""Which watches a stored change can affect (pure, no I/O).

A change can alter a watch's result in two ways only: the changed record was in the last
result (it changed or left), or its new state passes the watch's filters (it may enter).
So each watch is indexed under

- *filter keys*: one equality its query pins (`(collection, field, value)`, e.g.
  `("events", "actorId", "user-1")`), or `(collection, "*", None)` for a query that pins
  none, and
- *result keys*: `(collection, record key)` of every record its last result shows,
  including the entities a `connections.list` with `withEntities` embeds,

and a change looks up only the keys its record has. A watch found through a filter key
is then checked against the rest of its filters (`may_enter`): a superset test, never
stricter than the store's, so a false "yes" costs one re-evaluation and a "no" is always
right. Anything it cannot judge counts as "yes".
"""

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from contracts.queries import (
    ConnectionsList,
    EntitiesGet,
    EntitiesList,
    EntitiesSearch,
    EventsList,
    Query,
    TagsList,
)
from contracts.search_terms import search_terms

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

COLLECTION: Final[dict[str, str]] = {
    "entities.get": "entities",
    "entities.list": "entities",
    "entities.search": "entities",
    "connections.list": "connections",
    "events.list": "events",
    "tags.list": "tags",
}


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
    """The filter keys a watch of `name` is indexed under: one equality (ids: each id)."""
    collection = COLLECTION[name]
    if isinstance(request, EntitiesGet):
        ids = request.ids if request.ids is not None else [request.id]
        return [(collection, "id", entity_id) for entity_id in dict.fromkeys(ids)]
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
    """The records a result shows, as `(collection, record key)`."""
    if result is None:
        return set()
    collection = COLLECTION[name]
    items = result.get("items") if isinstance(result, dict) and "items" in result else [result]
    keys: set[ResultKey] = set()
    for item in items or ():
        if not isinstance(item, dict):
            continue
        key = record_identity(collection, item)
        if key is not None:
            keys.add((collection, key))
        if isinstance(request, ConnectionsList) and request.withEntities:
            # The embedded entities, also where they have not arrived yet (null).
            for side in ("fromEntityId", "toEntityId"):
                if isinstance(item.get(side), str):
                    keys.add(("entities", item[side]))
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
    field = {
        "entities.list": getattr(request, "orderBy", "createdAt"),
        "connections.list": "createdAt",
        "events.list": "timestamp",
    }.get(name)
    if field is None:
        return None
    value = result["items"][-1].get(field)
    return PageEdge(field, value) if isinstance(value, int) else None


def _eq(actual: Any, expected: Any) -> bool:
    # MongoDB equality also matches an array holding the value: an array is a "maybe".
    return isinstance(actual, list) or actual == expected


def _all_eq(record: Record, pairs: Iterable[tuple[str, Any]]) -> bool:
    for path, expected in pairs:
        if expected is None:
            continue
        value: Any = record
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if not _eq(value, expected):
            return False
    return True


def _live(record: Record, include_deleted: bool) -> bool:
    return include_deleted or record.get("deletedAt") is None


def _after(record: Record, field: str, bound: int | None) -> bool:
    value = record.get(field)
    return bound is None or not isinstance(value, int) or value > bound


def _before(record: Record, field: str, bound: int | None) -> bool:
    value = record.get(field)
    return bound is None or not isinstance(value, int) or value < bound


def may_enter(name: str, request: Query, record: Record, edge: PageEdge | None = None) -> bool:
    """Whether `record` (a changed record's new state) may show in the watch's result."""
    try:
        if edge is not None:
            value = record.get(edge.field)
            if isinstance(value, int) and value < edge.value:
                return False  # sorts after the last item of a full page
        return _passes(request, record)
    except Exception:  # a record of an unforeseen shape: re-evaluate rather than miss
        return True


def _passes(request: Query, record: Record) -> bool:
    if isinstance(request, EntitiesGet):
        return True  # indexed by id: any change of that entity may change the answer
    if isinstance(request, EntitiesList):
        return (
            _live(record, request.includeDeleted)
            and _all_eq(record, [("type", request.type), ("status", request.status)])
            and _all_eq(
                record, [(f"properties.{k}", v) for k, v in (request.properties or {}).items()]
            )
            and _after(record, "createdAt", request.createdAfter)
            and _before(record, "createdAt", request.createdBefore)
            and _after(record, "updatedAt", request.updatedAfter)
        )
    if isinstance(request, EntitiesSearch):
        if not (
            _live(record, False)
            and _all_eq(record, [("type", request.type), ("status", request.status)])
        ):
            return False
        name = record.get("name")
        if not isinstance(name, str):
            return True
        words = search_terms(name, max_terms=10_000)
        return all(any(word.startswith(term) for word in words) for term in request.terms)
    if isinstance(request, ConnectionsList):
        return _live(record, request.includeDeleted) and _all_eq(
            record,
            [
                ("fromEntityId", request.fromEntityId),
                ("toEntityId", request.toEntityId),
                ("relationshipType", request.relationshipType),
                ("metadata.protocol", request.protocol),
                ("metadata.messageType", request.messageType),
            ],
        )
    if isinstance(request, EventsList):
        timestamp = record.get("timestamp")
        if isinstance(timestamp, int) and (
            (request.since is not None and timestamp < request.since)
            or (request.until is not None and timestamp >= request.until)
        ):
            return False
        return _all_eq(
            record,
            [("actorId", request.actorId), ("targetId", request.targetId), ("type", request.type)]
            + [(f"metadata.{k}", v) for k, v in (request.metadata or {}).items()],
        )
    if isinstance(request, TagsList):
        return _live(record, False) and _all_eq(
            record,
            [("entityId", request.entityId), ("key", request.key), ("value", request.value)],
        )
    return True

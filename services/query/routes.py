"""The query catalog: each name under `one.v1.<tenant>.query.` → request model and handler."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from contracts.queries import (
    ConnectionsList,
    EntitiesGet,
    EntitiesList,
    EntitiesSearch,
    EventsList,
    GraphTraverse,
    Query,
    StatsCounts,
    TagsList,
)
from services.query.context import QueryContext
from services.query.handlers import connections, entities, events, graph, stats, tags

RequestT = TypeVar("RequestT", bound=Query)


@dataclass(frozen=True, slots=True)
class Route(Generic[RequestT]):
    model: type[RequestT]
    handle: Callable[[QueryContext, RequestT], Awaitable[Any]]
    # Whether a request reads through a shared read that takes its own store slot
    # (entity_lookups.py): it then waits for that read, not for a slot of its own, so the
    # requests sharing one read take one slot between them.
    shared_read: Callable[[RequestT], bool] | None = None


def _by_one_id(request: EntitiesGet) -> bool:
    return request.id is not None


ROUTES: Final[dict[str, Route[Any]]] = {
    "entities.get": Route(EntitiesGet, entities.get, shared_read=_by_one_id),
    "entities.list": Route(EntitiesList, entities.list_),
    "entities.search": Route(EntitiesSearch, entities.search),
    "connections.list": Route(ConnectionsList, connections.list_),
    "events.list": Route(EventsList, events.list_),
    "tags.list": Route(TagsList, tags.list_),
    "graph.traverse": Route(GraphTraverse, graph.traverse),
    "stats.counts": Route(StatsCounts, stats.counts),
}

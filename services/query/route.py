"""A query's handler bound to its spec (contracts/queries.py): what the dispatcher runs."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from contracts.queries import Query, QuerySpec
from services.query.context import QueryContext

RequestT = TypeVar("RequestT", bound=Query)


@dataclass(frozen=True, slots=True)
class Route(Generic[RequestT]):
    spec: QuerySpec[RequestT]
    handle: Callable[[QueryContext, RequestT], Awaitable[Any]]
    # Whether a request reads through a shared read that takes its own store slot
    # (entity_lookups.py): it then waits for that read, not for a slot of its own, so the
    # requests sharing one read take one slot between them.
    shared_read: Callable[[RequestT], bool] | None = None

    @property
    def model(self) -> type[RequestT]:
        return self.spec.request

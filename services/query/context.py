"""What every handler gets: the store's reads, the tenant, the deadline and the settings."""

from dataclasses import dataclass
from typing import Any, TypeVar

from contracts.errors import problem
from contracts.queries import MAX_LIMIT, ListQuery, Query, QuerySpec
from services.query.cursor import InvalidCursorError, cursor_scope, decode_cursor, encode_cursor
from services.query.entity_lookups import EntityLookups
from services.query.errors import InvalidRequestError
from services.settings import Settings
from services.store.port import Keyset, StoreReads

L = TypeVar("L", bound=ListQuery)


@dataclass(frozen=True, slots=True)
class QueryContext:
    store: StoreReads
    tenant: str
    name: str
    settings: Settings
    # When the store must have answered, on the event loop's clock (deadline.py).
    deadline: float
    # Coalesced `entities.get` of one id (entity_lookups.py); None reads directly.
    entity_lookups: EntityLookups | None = None

    def limit(self, requested: int | None) -> int:
        """The page size: the request's, else the default; never above the configured max.

        A limit the contract allows but this deployment does not is lowered, not refused:
        the caller pages on with `nextCursor` either way.
        """
        ceiling = min(self.settings.query_max_limit, MAX_LIMIT)
        return min(requested or self.settings.query_default_limit, ceiling)

    def position(
        self, request: Query, cursor: str | None, sort_type: type[int] | type[str]
    ) -> Keyset | None:
        if cursor is None:
            return None
        scope = cursor_scope(self.name, self.tenant, request)
        try:
            return decode_cursor(cursor, scope=scope, tenant=self.tenant, sort_type=sort_type)
        except InvalidCursorError as error:
            invalid = problem(["cursor"], str(error), "invalid_cursor")
            raise InvalidRequestError(str(error), [invalid]) from None

    async def page(self, spec: QuerySpec[L], request: L) -> dict[str, Any]:
        """One page of the keyset list `spec` names: `{items, nextCursor}`."""
        watch = spec.watch
        assert watch is not None  # a list has a spec that says how to watch it
        assert watch.order is not None
        sort_type = watch.order(request).type
        page = await self.store.list_page(
            spec,
            self.tenant,
            request,
            after=self.position(request, request.cursor, sort_type),
            limit=self.limit(request.limit),
            deadline=self.deadline,
        )
        return {"items": page.items, "nextCursor": self.next_cursor(request, page.next)}

    def next_cursor(self, request: Query, position: Keyset | None) -> str | None:
        if position is None:
            return None
        return encode_cursor(position, cursor_scope(self.name, self.tenant, request))

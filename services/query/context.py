"""What every handler gets: the store's reads, the tenant, the deadline and the settings."""

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from contracts.errors import problem
from contracts.queries import MAX_LIMIT, ListQuery, Query
from services.query.cursor import InvalidCursorError, cursor_scope, decode_cursor, encode_cursor
from services.query.entity_lookups import EntityLookups
from services.query.errors import InvalidRequestError
from services.settings import Settings
from services.store.port import Keyset, Page, StoreReads

L = TypeVar("L", bound=ListQuery)
L_contra = TypeVar("L_contra", bound=ListQuery, contravariant=True)


class PageReader(Protocol[L_contra]):
    """A keyset list read of the store port (`StoreReads.list_entities`, ...)."""

    def __call__(
        self,
        tenant: str,
        request: L_contra,
        *,
        after: Keyset | None,
        limit: int,
        deadline: float,
    ) -> Awaitable[Page]: ...


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

    async def page(
        self, request: L, read: PageReader[L], sort_type: type[int] | type[str] = int
    ) -> dict[str, Any]:
        """One page of a keyset list: `{items, nextCursor}`."""
        page = await read(
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

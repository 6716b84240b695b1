"""`connections.list`."""

from typing import Any

from contracts.queries import ConnectionsList
from services.query.context import QueryContext
from services.store import reads


async def list_(context: QueryContext, request: ConnectionsList) -> dict[str, Any]:
    page = await reads.list_connections(
        context.database,
        context.tenant,
        request,
        after=context.position(request, request.cursor, int),
        limit=context.limit(request.limit),
    )
    return {"items": page.items, "nextCursor": context.next_cursor(request, page.next)}

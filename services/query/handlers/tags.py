"""`tags.list`."""

from typing import Any

from contracts.queries import TagsList
from services.query.context import QueryContext
from services.store import reads


async def list_(context: QueryContext, request: TagsList) -> dict[str, Any]:
    page = await reads.list_tags(
        context.database,
        context.tenant,
        request,
        after=context.position(request, request.cursor, str),
        limit=context.limit(request.limit),
    )
    return {"items": page.items, "nextCursor": context.next_cursor(request, page.next)}

"""`tags.list`."""

from typing import Any

from contracts.queries import TagsList
from services.query.context import QueryContext


async def list_(context: QueryContext, request: TagsList) -> dict[str, Any]:
    # Tags sort by a string (`key` or `entityId`), the other lists by a time.
    return await context.page(request, context.store.list_tags, str)

"""`tags.list`."""

from typing import Any, Final

from contracts.queries import TAGS_LIST, TagsList
from services.query.context import QueryContext
from services.query.route import Route


async def list_(context: QueryContext, request: TagsList) -> dict[str, Any]:
    # Tags sort by a string (`key` or `entityId`), the other lists by a time.
    return await context.page(request, context.store.list_tags, str)


ROUTES: Final[list[Route[Any]]] = [Route(TAGS_LIST, list_)]

"""`tags.list`."""

from typing import Any, Final

from contracts.queries import TAGS_LIST, TagsList
from services.query.context import QueryContext
from services.query.route import Route


async def list_(context: QueryContext, request: TagsList) -> dict[str, Any]:
    return await context.page(TAGS_LIST, request)


ROUTES: Final[list[Route[Any]]] = [Route(TAGS_LIST, list_)]

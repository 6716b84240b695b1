"""`events.list`."""

from typing import Any, Final

from contracts.queries import EVENTS_LIST, EventsList
from services.query.context import QueryContext
from services.query.route import Route


async def list_(context: QueryContext, request: EventsList) -> dict[str, Any]:
    return await context.page(EVENTS_LIST, request)


ROUTES: Final[list[Route[Any]]] = [Route(EVENTS_LIST, list_)]

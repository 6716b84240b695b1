"""`connections.list`."""

from typing import Any, Final

from contracts.queries import CONNECTIONS_LIST, ConnectionsList
from services.query.context import QueryContext
from services.query.route import Route


async def list_(context: QueryContext, request: ConnectionsList) -> dict[str, Any]:
    return await context.page(CONNECTIONS_LIST, request)


ROUTES: Final[list[Route[Any]]] = [Route(CONNECTIONS_LIST, list_)]

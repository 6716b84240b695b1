"""`connections.list`."""

from typing import Any

from contracts.queries import ConnectionsList
from services.query.context import QueryContext


async def list_(context: QueryContext, request: ConnectionsList) -> dict[str, Any]:
    return await context.page(request, context.store.list_connections)

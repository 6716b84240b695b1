"""`events.list`."""

from typing import Any

from contracts.queries import EventsList
from services.query.context import QueryContext


async def list_(context: QueryContext, request: EventsList) -> dict[str, Any]:
    return await context.page(request, context.store.list_events)

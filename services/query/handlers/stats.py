"""`stats.counts`."""

from typing import Any, Final

from contracts.queries import STATS_COUNTS, StatsCounts
from services.query.context import QueryContext
from services.query.route import Route


async def counts(context: QueryContext, request: StatsCounts) -> dict[str, Any]:
    rows = await context.store.count_by(
        context.tenant,
        request.collection,
        request.groupBy,
        include_deleted=request.includeDeleted,
        deadline=context.deadline,
    )
    return {"counts": rows}


ROUTES: Final[list[Route[Any]]] = [Route(STATS_COUNTS, counts)]

"""`stats.counts`."""

from typing import Any

from contracts.queries import StatsCounts
from services.query.context import QueryContext


async def counts(context: QueryContext, request: StatsCounts) -> dict[str, Any]:
    rows = await context.store.count_by(
        context.tenant,
        request.collection,
        request.groupBy,
        include_deleted=request.includeDeleted,
        deadline=context.deadline,
    )
    return {"counts": rows}

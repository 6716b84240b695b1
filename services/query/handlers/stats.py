"""`stats.counts`."""

from typing import Any

from contracts.queries import StatsCounts
from services.query.context import QueryContext
from services.store import reads


async def counts(context: QueryContext, request: StatsCounts) -> dict[str, Any]:
    rows = await reads.count_by(
        context.database,
        context.tenant,
        request.collection,
        request.groupBy,
        include_deleted=request.includeDeleted,
    )
    return {"counts": rows}

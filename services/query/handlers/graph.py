"""`graph.traverse`."""

from typing import Any

from contracts.queries import GraphTraverse
from services.query.context import QueryContext
from services.store import reads


async def traverse(context: QueryContext, request: GraphTraverse) -> dict[str, Any]:
    walk = await reads.traverse(
        context.database,
        context.tenant,
        request.startId,
        direction=request.direction,
        relationship_types=request.relationshipTypes,
        depth=request.depth,
        limit=context.limit(request.limit),
    )
    return {"nodes": walk.nodes, "edges": walk.edges, "truncated": walk.truncated}

"""`graph.traverse`."""

from typing import Any, Final

from contracts.queries import GRAPH_TRAVERSE, GraphTraverse
from services.query.context import QueryContext
from services.query.route import Route


async def traverse(context: QueryContext, request: GraphTraverse) -> dict[str, Any]:
    walk = await context.store.traverse(
        context.tenant,
        request.startId,
        direction=request.direction,
        relationship_types=request.relationshipTypes,
        depth=request.depth,
        limit=context.limit(request.limit),
        deadline=context.deadline,
    )
    return {"nodes": walk.nodes, "edges": walk.edges, "truncated": walk.truncated}


ROUTES: Final[list[Route[Any]]] = [Route(GRAPH_TRAVERSE, traverse)]

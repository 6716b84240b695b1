"""Graph walks: breadth-first over connections from one entity, bounded in depth and size."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pymongo.asynchronous.database import AsyncDatabase

from services.store.keys import to_record
from services.store.reads.entities import LIVE, get_entities

Document = dict[str, Any]
Direction = Literal["out", "in", "both"]

# (the side the frontier is on, the side that leads to the next hop)
_SIDES: dict[Direction, tuple[tuple[str, str], ...]] = {
    "out": (("fromEntityId", "toEntityId"),),
    "in": (("toEntityId", "fromEntityId"),),
    "both": (("fromEntityId", "toEntityId"), ("toEntityId", "fromEntityId")),
}


@dataclass(frozen=True, slots=True)
class Walk:
    nodes: list[Document]
    edges: list[Document]
    truncated: bool


async def traverse(
    database: AsyncDatabase[Document],
    tenant: str,
    start_id: str,
    *,
    direction: Direction,
    relationship_types: Sequence[str] | None,
    depth: int,
    limit: int,
) -> Walk:
    """At most `limit` live edges reachable in `depth` hops, and the entities they join.

    Each hop is one indexed query per side (`from_entity`/`to_entity` with `$in` over the
    frontier), newest connections first. Entities that have not arrived are left out of
    `nodes`; their edges stay.
    """
    residual: Document = dict(LIVE)
    if relationship_types is not None:
        residual["relationshipType"] = {"$in": list(relationship_types)}
    reached = [start_id]
    seen = {start_id}
    frontier = [start_id]
    edges: dict[str, Document] = {}
    truncated = False
    for _hop in range(depth):
        following: list[str] = []
        for near, far in _SIDES[direction]:
            if not frontier or truncated:
                break
            # Edges already taken (seen from their other end) must not use up the limit.
            known = {"_id": {"$nin": list(edges)}} if edges else {}
            pipeline: list[Document] = [
                {"$match": {"groupId": tenant, near: {"$in": frontier}}},
                {"$match": {**residual, **known}},
                {"$sort": {"createdAt": -1, "_id": -1}},
                # One more than fits tells whether the walk had to stop.
                {"$limit": limit - len(edges) + 1},
            ]
            cursor = await database["connections"].aggregate(pipeline)
            async for document in cursor:
                if document["_id"] in edges:
                    continue  # joins two frontier nodes: returned by both sides' queries
                if len(edges) == limit:
                    truncated = True
                    break
                edges[document["_id"]] = to_record(document)
                if document[far] not in seen:
                    seen.add(document[far])
                    reached.append(document[far])
                    following.append(document[far])
        frontier = following
        if not frontier or truncated:
            break
    entities = await get_entities(database, tenant, reached)
    return Walk(
        nodes=[entities[node] for node in reached if node in entities],
        edges=list(edges.values()),
        truncated=truncated,
    )

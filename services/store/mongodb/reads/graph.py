"""Graph walks: breadth-first over connections from one entity, bounded in depth and size."""

from collections.abc import Collection, Sequence

from pymongo.asynchronous.database import AsyncDatabase

from services.store.keys import to_record
from services.store.mongodb.reads.entities import LIVE, get_entities
from services.store.port import Direction, Document, Walk

# (the side the frontier is on, the side that leads to the next hop)
_SIDES: dict[Direction, tuple[tuple[str, str], ...]] = {
    "out": (("fromEntityId", "toEntityId"),),
    "in": (("toEntityId", "fromEntityId"),),
    "both": (("fromEntityId", "toEntityId"), ("toEntityId", "fromEntityId")),
}


def hop_pipeline(
    tenant: str,
    near: str,
    frontier: Sequence[str],
    relationship_types: Sequence[str] | None,
    *,
    taken: Collection[str],
    room: int,
) -> list[Document]:
    """One hop from `frontier` on side `near`: up to `room` + 1 new live edges, newest first.

    The first stage is the tenant and an `$in` on the `from_entity`/`to_entity` index key.
    """
    residual: Document = dict(LIVE)
    if relationship_types is not None:
        residual["relationshipType"] = {"$in": list(relationship_types)}
    if taken:
        # Edges already taken (seen from their other end) must not use up the room.
        residual["_id"] = {"$nin": list(taken)}
    return [
        {"$match": {"groupId": tenant, near: {"$in": list(frontier)}}},
        {"$match": residual},
        {"$sort": {"createdAt": -1, "_id": -1}},
        # One more than fits tells whether the walk had to stop.
        {"$limit": room + 1},
    ]


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
            pipeline = hop_pipeline(
                tenant, near, frontier, relationship_types, taken=edges, room=limit - len(edges)
            )
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

"""Graph walks: breadth-first over connections from one entity, bounded in depth and size."""

from collections.abc import Collection, Sequence

from pymongo.asynchronous.database import AsyncDatabase

from services.store.graph_walk import walk
from services.store.mongodb.reads.entities import LIVE, get_entities
from services.store.port import Direction, Document, Walk


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
    """The walk of graph_walk.py, each hop one indexed query per side
    (`from_entity`/`to_entity` with `$in` over the frontier)."""

    async def hop(
        near: str, frontier: Sequence[str], taken: Collection[str], room: int
    ) -> list[Document]:
        pipeline = hop_pipeline(tenant, near, frontier, relationship_types, taken=taken, room=room)
        cursor = await database["connections"].aggregate(pipeline)
        return await cursor.to_list(None)

    async def lookup(ids: Sequence[str]) -> dict[str, Document]:
        return await get_entities(database, tenant, ids)

    return await walk(
        start_id, direction=direction, depth=depth, limit=limit, hop=hop, lookup=lookup
    )

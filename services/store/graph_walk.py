"""`graph.traverse` as a walk: breadth-first over connections from one entity, bounded in
depth and size (pure; each store supplies one hop and the entity lookup)."""

from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Final

from services.store.keys import to_record
from services.store.port import Direction, Document, Walk

# (the side the frontier is on, the side that leads to the next hop)
SIDES: Final[dict[Direction, tuple[tuple[str, str], ...]]] = {
    "out": (("fromEntityId", "toEntityId"),),
    "in": (("toEntityId", "fromEntityId"),),
    "both": (("fromEntityId", "toEntityId"), ("toEntityId", "fromEntityId")),
}

Hop = Callable[[str, Sequence[str], Collection[str], int], Awaitable[list[Document]]]
"""`(near, frontier, taken, room)` → up to `room + 1` live edges (stored documents) whose
`near` end is in `frontier`, not in `taken` (by `_id`), newest first (`createdAt`, `_id`)."""
Lookup = Callable[[Sequence[str]], Awaitable[dict[str, Document]]]
"""Ids → the live entities among them, by id."""


async def walk(
    start_id: str, *, direction: Direction, depth: int, limit: int, hop: Hop, lookup: Lookup
) -> Walk:
    """At most `limit` live edges reachable in `depth` hops, and the entities they join.

    Newest connections first within each hop. Entities that have not arrived are left out
    of `nodes`; their edges stay.
    """
    reached = [start_id]
    seen = {start_id}
    frontier = [start_id]
    edges: dict[str, Document] = {}
    truncated = False
    for _hop in range(depth):
        following: list[str] = []
        for near, far in SIDES[direction]:
            if not frontier or truncated:
                break
            for document in await hop(near, frontier, edges, limit - len(edges)):
                if document["_id"] in edges:
                    continue  # joins two frontier nodes: returned by both sides' hops
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
    entities = await lookup(reached)
    return Walk(
        nodes=[entities[node] for node in reached if node in entities],
        edges=list(edges.values()),
        truncated=truncated,
    )

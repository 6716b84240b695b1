"""A small tenant for the console's tests, published through the SDK and waited for."""

from dataclasses import dataclass

from contracts.queries import EntitiesList, GraphTraverse
from one_bus import OneClient
from tests.fixtures.waiting import eventually

HOSTILE_NAMES = ("<script>window.__pwned = 1</script>", '"><img src=x onerror="window.__pwned=1">')


@dataclass(frozen=True)
class Seeded:
    """Ada owns a post and follows Grace; Grace owns a course; one entity is named hostilely."""

    ada: str
    grace: str
    post: str
    course: str
    hostile: str
    edges: frozenset[tuple[str, str, str]]


async def seed(one: OneClient) -> Seeded:
    actor = "u1"
    ada, _ = await one.upsert_entity(
        type="creator",
        name="Ada Lovelace",
        actor_id=actor,
        properties={"bio": "engines"},
        status="active",
    )
    grace, _ = await one.upsert_entity(
        type="creator", name="Grace Hopper", actor_id=actor, status="active"
    )
    post, _ = await one.upsert_entity(type="blog_post", name="Notes on the engine", actor_id=actor)
    course, _ = await one.upsert_entity(type="course", name="Compilers", actor_id=actor)
    hostile, _ = await one.upsert_entity(
        type="creator",
        name=HOSTILE_NAMES[0] + HOSTILE_NAMES[1],
        actor_id=actor,
        properties={"note": HOSTILE_NAMES[1]},
    )
    edges = {(ada, post, "owns"), (ada, grace, "following"), (grace, course, "owns")}
    for source, target, kind in sorted(edges):
        await one.create_connection(from_id=source, to_id=target, relationship_type=kind)  # type: ignore[arg-type]
    await one.set_tag(ada, "topic", "computing")
    await eventually(
        lambda: one.list_entities(EntitiesList(limit=10)), lambda page: len(page.items) == 5
    )
    await eventually(
        lambda: one.traverse(GraphTraverse(startId=ada, direction="both", depth=2)),
        lambda graph: len(graph.edges) == len(edges),
    )
    return Seeded(ada, grace, post, course, hostile, frozenset(edges))

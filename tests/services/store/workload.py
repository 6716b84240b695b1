"""A random workload over a few records, and queries of every watchable kind over them.

Small on purpose: four entities, six connections, two tag keys, so that commands keep
landing on the same records (stale upserts, deletes before creates, revived entities).
"""

import random
from typing import TypeVar

from contracts.commands import (
    AnyCommand,
    ConnectionDelete,
    EntityArchive,
    EntityDelete,
    TagDelete,
    TagSet,
)
from contracts.queries import (
    ConnectionsList,
    EntitiesGet,
    EntitiesList,
    EntitiesSearch,
    EventsList,
    Query,
    TagsList,
)
from tests.services.store.port_suite import connect, event, upsert

V = TypeVar("V")
Scalars = dict[str, bool | int | float | str]

QUERIES: list[tuple[str, Query]] = [
    ("entities.get", EntitiesGet(id="e1")),
    ("entities.get", EntitiesGet(ids=["e2", "e3"], type="creator")),
    ("entities.list", EntitiesList(limit=3)),
    ("entities.list", EntitiesList(type="organization", status="active", limit=2)),
    ("entities.list", EntitiesList(orderBy="updatedAt", updatedAfter=30, limit=2)),
    ("entities.list", EntitiesList(properties={"level": 2}, includeDeleted=True)),
    ("entities.search", EntitiesSearch(text="ada")),
    ("connections.list", ConnectionsList(fromEntityId="e1", withEntities=True, limit=2)),
    ("connections.list", ConnectionsList(toEntityId="e2", relationshipType="owns")),
    ("events.list", EventsList(actorId="e1", limit=2)),
    ("events.list", EventsList(since=20, until=60, metadata={"taskId": "k1"})),
    ("tags.list", TagsList(entityId="e1")),
    ("tags.list", TagsList(key="topic", value="ai", limit=2)),
]


def random_command(rng: random.Random, n: int) -> AnyCommand:
    """The `n`th command of a workload."""
    entity_id = f"e{rng.randint(1, 4)}"
    at = rng.randint(1, 80)
    kind = rng.choice(["upsert", "upsert", "delete", "archive", "connect", "disconnect", "event"])
    if kind == "upsert":
        return upsert(
            entity_id,
            at,
            type=rng.choice(["creator", "organization"]),
            status=rng.choice([None, "active", "draft"]),
            name=rng.choice(["Ada Lovelace", "Adam", "Grace"]),
            properties={"level": rng.randint(1, 3)},
        )
    if kind == "delete":
        return EntityDelete(id=entity_id, updatedAt=at, actorId="x")
    if kind == "archive":
        return EntityArchive(id=entity_id, updatedAt=at, actorId="x")
    if kind == "connect":
        kind_of = rng.choice(["owns", "created_by"])
        return connect(
            f"c{rng.randint(1, 6)}",
            entity_id,
            f"e{rng.randint(1, 4)}",
            at,
            relationshipType=kind_of,
        )
    if kind == "disconnect":
        return ConnectionDelete(id=f"c{rng.randint(1, 6)}", updatedAt=at)
    if rng.random() < 0.5:
        tag = {"entityId": entity_id, "key": rng.choice(["topic", "level"]), "value": "ai"}
        return TagSet(**tag) if rng.random() < 0.7 else TagDelete(**tag)
    metadata = {"taskId": rng.choice(["k1", "k2"])}
    return event(f"v{n}", at, actorId=entity_id, metadata=metadata)


def random_queries(rng: random.Random, count: int) -> list[tuple[str, Query]]:
    """`count` requests of the watchable queries, their filters drawn from the workload's
    values (so most of them find something)."""

    def entity() -> str:
        return f"e{rng.randint(1, 4)}"

    def maybe(value: V) -> V | None:
        return value if rng.random() < 0.5 else None

    def at() -> int | None:
        return maybe(rng.randint(1, 80))

    def limit(most: int = 5) -> int:
        return rng.randint(1, most)

    def query() -> tuple[str, Query]:
        kind = rng.choice(["get", "list", "search", "connections", "events", "tags"])
        if kind == "get":
            return "entities.get", EntitiesGet(id=entity(), includeDeleted=rng.random() < 0.3)
        if kind == "list":
            return "entities.list", EntitiesList(
                type=maybe(rng.choice(["creator", "organization"])),
                status=maybe(rng.choice(["active", "draft", "archived"])),
                createdAfter=at(),
                createdBefore=at(),
                updatedAfter=at(),
                properties=maybe(Scalars(level=rng.randint(1, 3))),
                orderBy=rng.choice(["createdAt", "updatedAt"]),
                includeDeleted=rng.random() < 0.3,
                limit=limit(),
            )
        if kind == "search":
            return "entities.search", EntitiesSearch(
                text=rng.choice(["ada", "ad", "lovelace ada", "gr"]),
                type=maybe("creator"),
                status=maybe("active"),
            )
        if kind == "connections":
            return "connections.list", ConnectionsList(
                fromEntityId=entity(),
                toEntityId=maybe(entity()),
                relationshipType=maybe(rng.choice(["owns", "created_by"])),
                withEntities=rng.random() < 0.5,
                includeDeleted=rng.random() < 0.3,
                limit=limit(),
            )
        if kind == "events":
            return "events.list", EventsList(
                actorId=maybe(entity()),
                since=at(),
                until=at(),
                metadata=maybe(Scalars(taskId=rng.choice(["k1", "k2"]))),
                limit=limit(),
            )
        if rng.random() < 0.5:
            return "tags.list", TagsList(entityId=entity(), limit=limit(3))
        return "tags.list", TagsList(key=rng.choice(["topic", "level"]), value=maybe("ai"))

    return [query() for _ in range(count)]

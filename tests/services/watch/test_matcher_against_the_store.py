"""The matcher never says "cannot enter" of a record the store would list: random records
and random filters, and every record a list query returns passes `may_enter`.

A "no" from the matcher means no re-read, so a wrong "no" is a missed push; a wrong "yes"
only costs a read. This checks the first never happens, against the real store.
"""

import random
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from contracts.queries import ConnectionsList, EntitiesList, EventsList, TagsList
from services.store.keys import document_id
from services.store.mongodb import reads
from services.store.mongodb.indexes import ensure_indexes
from services.watch.matcher import may_enter

TENANT = "acme"
TYPES = ["creator", "blog_post"]
STATUSES = ["active", "draft", None]
LEVELS = ["pro", "new", 5, True, None]


def entity(rng: random.Random, n: int) -> dict[str, Any]:
    created = rng.randrange(0, 100)
    document: dict[str, Any] = {
        "_id": document_id(TENANT, f"e{n}"), "id": f"e{n}", "groupId": TENANT,
        "type": rng.choice(TYPES), "name": f"entity {n}", "createdAt": created,
        "updatedAt": created + rng.randrange(0, 50),
        "properties": {} if rng.random() < 0.2 else {"level": rng.choice(LEVELS)},
    }  # fmt: skip
    status = rng.choice(STATUSES)
    if status is not None:
        document["status"] = status
    if rng.random() < 0.2:
        document["deletedAt"] = 1
    return document


def entities_request(rng: random.Random) -> EntitiesList:
    fields: dict[str, Any] = {"limit": 500}
    if rng.random() < 0.5:
        fields["type"] = rng.choice(TYPES)
    if rng.random() < 0.4:
        fields["status"] = rng.choice(["active", "draft"])
    if rng.random() < 0.3:
        fields["properties"] = {"level": rng.choice(["pro", "new", 5, True])}
    if rng.random() < 0.3:
        fields["createdAfter"] = rng.randrange(0, 100)
    if rng.random() < 0.3:
        fields["createdBefore"] = rng.randrange(0, 100)
    if rng.random() < 0.3:
        fields["updatedAfter"] = rng.randrange(0, 150)
    if rng.random() < 0.3:
        fields["orderBy"] = "updatedAt"
    if rng.random() < 0.2:
        fields["includeDeleted"] = True
    return EntitiesList(**fields)


def event(rng: random.Random, n: int) -> dict[str, Any]:
    return {
        "_id": document_id(TENANT, f"v{n}"), "id": f"v{n}", "groupId": TENANT,
        "type": rng.choice(["payment_event", "task_event"]),
        "actorId": rng.choice(["u1", "u2"]), "targetId": rng.choice(["t1", "t2"]),
        "timestamp": rng.randrange(0, 100),
        "metadata": {"status": rng.choice(["processed", "requested", 1])},
    }  # fmt: skip


def events_request(rng: random.Random) -> EventsList:
    fields: dict[str, Any] = {"limit": 500}
    for field, values in (("actorId", ["u1", "u2"]), ("targetId", ["t1", "t2"]),
                          ("type", ["payment_event", "task_event"])):  # fmt: skip
        if rng.random() < 0.4:
            fields[field] = rng.choice(values)
    if rng.random() < 0.4:
        fields["metadata"] = {"status": rng.choice(["processed", "requested", 1])}
    if rng.random() < 0.3:
        fields["since"] = rng.randrange(0, 100)
    if rng.random() < 0.3:
        fields["until"] = rng.randrange(0, 100)
    return EventsList(**fields)


def connection(rng: random.Random, n: int) -> dict[str, Any]:
    document: dict[str, Any] = {
        "_id": document_id(TENANT, f"c{n}"), "id": f"c{n}", "groupId": TENANT,
        "fromEntityId": rng.choice(["a", "b"]), "toEntityId": rng.choice(["a", "b", "c"]),
        "relationshipType": rng.choice(["owns", "following"]), "createdAt": rng.randrange(0, 100),
    }  # fmt: skip
    if rng.random() < 0.7:
        document["metadata"] = {"protocol": rng.choice(["a2a", "acp"]),
                                "messageType": rng.choice(["Message", "Task"])}  # fmt: skip
    if rng.random() < 0.2:
        document["deletedAt"] = 1
    return document


def connections_request(rng: random.Random) -> ConnectionsList:
    fields: dict[str, Any] = {"limit": 500}
    anchors = rng.choice([("fromEntityId",), ("toEntityId",), ("fromEntityId", "toEntityId")])
    for field in anchors:
        fields[field] = rng.choice(["a", "b", "c"])
    if rng.random() < 0.4:
        fields["relationshipType"] = rng.choice(["owns", "following"])
    if rng.random() < 0.3:
        fields["protocol"] = rng.choice(["a2a", "ACP"])
    if rng.random() < 0.3:
        fields["messageType"] = rng.choice(["Message", "Task"])
    if rng.random() < 0.2:
        fields["includeDeleted"] = True
    return ConnectionsList(**fields)


def tag(rng: random.Random, n: int) -> dict[str, Any]:
    document: dict[str, Any] = {
        "_id": f"{TENANT}:tag{n}", "groupId": TENANT, "entityId": rng.choice(["a", "b"]),
        "key": rng.choice(["topic", "level"]), "value": rng.choice(["ai", "art"]), "seq": n,
    }  # fmt: skip
    if rng.random() < 0.2:
        document["deletedAt"] = 1
    return document


def tags_request(rng: random.Random) -> TagsList:
    if rng.random() < 0.5:
        return TagsList(entityId=rng.choice(["a", "b"]), limit=500)
    value = rng.choice(["ai", "art", None])
    return TagsList(key=rng.choice(["topic", "level"]), value=value, limit=500)


async def test_connections_and_tags_listed_may_enter(
    database: AsyncDatabase[dict[str, Any]],
) -> None:
    rng = random.Random(7)
    await ensure_indexes(database)
    connections = [connection(rng, n) for n in range(150)]
    tags = [tag(rng, n) for n in range(150)]
    await database["connections"].insert_many([dict(c) for c in connections])
    await database["tags"].insert_many([dict(t) for t in tags])
    listed = 0
    for _ in range(40):
        wanted = connections_request(rng)
        page = await reads.list_connections(database, TENANT, wanted, after=None, limit=500)
        for record in page.items:
            assert may_enter("connections.list", wanted, record), (wanted, record)
            listed += 1
        tagged = tags_request(rng)
        page = await reads.list_tags(database, TENANT, tagged, after=None, limit=500)
        for record in page.items:
            assert may_enter("tags.list", tagged, record), (tagged, record)
            listed += 1
    assert listed > 300, listed


async def test_every_listed_record_may_enter(database: AsyncDatabase[dict[str, Any]]) -> None:
    rng = random.Random(12)
    await ensure_indexes(database)
    entities = [entity(rng, n) for n in range(150)]
    events = [event(rng, n) for n in range(150)]
    await database["entities"].insert_many([dict(e) for e in entities])
    await database["events"].insert_many([dict(e) for e in events])
    listed = spared = 0
    for _ in range(40):
        listing = entities_request(rng)
        page = await reads.list_entities(database, TENANT, listing, after=None, limit=500)
        shown = {record["id"] for record in page.items}
        for record in entities:
            if record["id"] in shown:
                assert may_enter("entities.list", listing, record), (listing, record)
                listed += 1
            else:
                spared += not may_enter("entities.list", listing, record)
        filters = events_request(rng)
        page = await reads.list_events(database, TENANT, filters, after=None, limit=500)
        shown = {record["id"] for record in page.items}
        for record in events:
            if record["id"] in shown:
                assert may_enter("events.list", filters, record), (filters, record)
                listed += 1
            else:
                spared += not may_enter("events.list", filters, record)
    assert listed > 500, "the random filters matched too little to mean anything"
    # And it is not a "yes" to everything: most records the store leaves out, it rules out.
    unlisted = 40 * (len(entities) + len(events)) - listed
    assert spared > 0.9 * unlisted, (spared, unlisted)

"""Publishing on the ingest subjects with a plain NATS client stores the records.

These tests talk to a real nats-server and a real MongoDB wire-protocol server; the
publisher is nats-py, not the service's own code.
"""

import json
from typing import Any

import nats.aio.client
import pytest
from nats.js import JetStreamContext
from pymongo.asynchronous.database import AsyncDatabase

from services.runtime.service import OneBusService
from tests.fixtures.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("bus")]

Database = AsyncDatabase[dict[str, Any]]


async def publish(
    js: JetStreamContext, subject: str, payload: Any, msg_id: str | None = None
) -> None:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id} if msg_id else None)


def upsert(entity_id: str, updated_at: int, name: str = "Ada", **extra: Any) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": "creator",
        "name": name,
        "updatedAt": updated_at,
        "actorId": "user-1",
        **extra,
    }


async def find(db: Database, collection: str, tenant: str, **filters: Any) -> list[dict[str, Any]]:
    return await db[collection].find({"groupId": tenant, **filters}).to_list()


@pytest.fixture
def js(nats_client: nats.aio.client.Client) -> JetStreamContext:
    return nats_client.jetstream()


async def test_each_kind_lands_in_its_collection_with_the_tenant_as_groupId(
    js: JetStreamContext, bus_db: Database, tenant: str
) -> None:
    await publish(js, f"one.v1.{tenant}.entities.creator.upsert", upsert("c1", 10))
    await publish(
        js,
        f"one.v1.{tenant}.connections.owns.create",
        {"id": "k1", "fromEntityId": "c1", "toEntityId": "v1", "relationshipType": "owns"},
    )
    await publish(
        js, f"one.v1.{tenant}.tags.set", {"entityId": "c1", "key": "topic", "value": "ai"}
    )
    await publish(
        js,
        f"one.v1.{tenant}.events.payment_event",
        {
            "id": "e1",
            "type": "payment_event",
            "actorId": "c1",
            "timestamp": 11,
            "metadata": {"status": "processed", "protocol": "ap2"},
        },
    )

    async def everything() -> dict[str, list[dict[str, Any]]]:
        return {
            c: await find(bus_db, c, tenant) for c in ("entities", "connections", "tags", "events")
        }

    stored = await eventually(everything, lambda s: all(s.values()) and len(s["events"]) == 2)
    assert [e["name"] for e in stored["entities"]] == ["Ada"]
    assert stored["entities"][0]["id"] == "c1"
    assert stored["connections"][0]["toEntityId"] == "v1"
    assert (stored["tags"][0]["key"], stored["tags"][0]["value"]) == ("topic", "ai")
    assert sorted(e["type"] for e in stored["events"]) == ["entity_created", "payment_event"]
    for records in stored.values():
        assert all(r["groupId"] == tenant for r in records)


async def test_the_same_record_published_twice_is_stored_once(
    js: JetStreamContext, bus_db: Database, tenant: str
) -> None:
    event = {"id": "e1", "type": "user_login", "actorId": "u1", "timestamp": 5, "metadata": {}}
    subject = f"one.v1.{tenant}.events.user_login"
    await publish(js, subject, event, msg_id="e1")
    await publish(js, subject, event, msg_id="e1")  # dropped by the stream's dedupe window
    await publish(js, subject, event, msg_id="e1-retry")  # reaches the store: idempotent write
    await publish(
        js, f"one.v1.{tenant}.events.user_logout", {**event, "id": "marker", "type": "user_logout"}
    )

    events = await eventually(lambda: find(bus_db, "events", tenant), lambda e: len(e) >= 2)
    assert sorted(e["id"] for e in events) == ["e1", "marker"]


async def test_two_tenants_with_the_same_id_get_two_records(
    js: JetStreamContext, bus_db: Database, tenant: str
) -> None:
    other = f"{tenant}-b"
    await publish(js, f"one.v1.{tenant}.entities.creator.upsert", upsert("same", 1, name="Mine"))
    await publish(js, f"one.v1.{other}.entities.creator.upsert", upsert("same", 2, name="Theirs"))

    async def both() -> list[dict[str, Any]]:
        return await bus_db.entities.find(
            {"id": "same", "groupId": {"$in": [tenant, other]}}
        ).to_list()

    records = await eventually(both, lambda r: len(r) == 2)
    assert {(r["groupId"], r["name"]) for r in records} == {(tenant, "Mine"), (other, "Theirs")}


async def test_a_stale_update_never_overwrites_a_newer_one(
    js: JetStreamContext, bus_db: Database, tenant: str
) -> None:
    subject = f"one.v1.{tenant}.entities.creator.upsert"
    await publish(js, subject, upsert("c1", 20, name="newer"))
    await publish(js, subject, upsert("c1", 10, name="older"))
    await publish(js, f"one.v1.{tenant}.entities.creator.upsert", upsert("marker", 1))

    await eventually(lambda: find(bus_db, "entities", tenant, id="marker"), bool)
    [entity] = await find(bus_db, "entities", tenant, id="c1")
    assert (entity["name"], entity["updatedAt"]) == ("newer", 20)
    # The audit trail is in the entity's own time, whatever the arrival order.
    lifecycle = sorted(
        await find(bus_db, "events", tenant, targetId="c1"), key=lambda e: e["timestamp"]
    )
    assert [(e["type"], e["timestamp"]) for e in lifecycle] == [
        ("entity_created", 10),
        ("entity_updated", 20),
    ]


async def test_entity_delete_and_archive_are_recorded_with_their_actor(
    js: JetStreamContext, bus_db: Database, tenant: str
) -> None:
    await publish(js, f"one.v1.{tenant}.entities.creator.upsert", upsert("c1", 1))
    await publish(
        js,
        f"one.v1.{tenant}.entities.creator.archive",
        {"id": "c1", "updatedAt": 2, "actorId": "admin"},
    )
    await publish(
        js,
        f"one.v1.{tenant}.entities.creator.delete",
        {"id": "c1", "updatedAt": 3, "actorId": "admin"},
    )

    async def lifecycle() -> list[dict[str, Any]]:
        return (
            await bus_db.events.find({"groupId": tenant, "targetId": "c1"})
            .sort("timestamp")
            .to_list()
        )

    events = await eventually(lifecycle, lambda e: len(e) == 3)
    assert [(e["type"], e["actorId"]) for e in events] == [
        ("entity_created", "user-1"),
        ("entity_archived", "admin"),
        ("entity_deleted", "admin"),
    ]
    # Lifecycle events are written before their entity (a crash between the two leaves
    # no entity without its trail), so the entity is waited for on its own.
    [entity] = await eventually(
        lambda: find(bus_db, "entities", tenant, id="c1", deletedAt=3),
        lambda found: len(found) == 1,
    )
    assert (entity["status"], entity["deletedAt"]) == ("archived", 3)


async def test_tags_are_set_and_deleted_as_triples(
    js: JetStreamContext, bus_db: Database, tenant: str
) -> None:
    tag = {"entityId": "c1", "key": "topic", "value": "ai"}
    await publish(js, f"one.v1.{tenant}.tags.set", tag)
    await publish(js, f"one.v1.{tenant}.tags.set", {**tag, "value": "music"})
    await publish(js, f"one.v1.{tenant}.tags.delete", tag)

    tags = await eventually(
        lambda: find(bus_db, "tags", tenant),
        lambda t: any("deletedAt" in x for x in t) and len(t) == 2,
    )
    live = sorted(t["value"] for t in tags if "deletedAt" not in t)
    assert live == ["music"]


async def test_every_stored_change_is_republished_on_the_changes_subjects(
    js: JetStreamContext, tenant: str
) -> None:
    changes = await js.subscribe(f"one.v1.{tenant}.changes.>", ordered_consumer=True)
    await publish(js, f"one.v1.{tenant}.entities.creator.upsert", upsert("c1", 1))
    await publish(js, f"one.v1.{tenant}.tags.set", {"entityId": "c1", "key": "k", "value": "v"})

    seen: dict[str, dict[str, Any]] = {}
    for _ in range(3):
        msg = await changes.next_msg(timeout=15)
        seen[msg.subject] = json.loads(msg.data)
    assert set(seen) == {
        f"one.v1.{tenant}.changes.entities.creator",
        f"one.v1.{tenant}.changes.events.entity_created",
        f"one.v1.{tenant}.changes.tags.set",
    }
    entity_change = seen[f"one.v1.{tenant}.changes.entities.creator"]
    assert entity_change["collection"] == "entities"
    assert entity_change["op"] == "upsert"
    assert entity_change["record"]["id"] == "c1"
    assert entity_change["record"]["groupId"] == tenant
    assert "_id" not in entity_change["record"]
    await changes.unsubscribe()


HOSTILE: list[tuple[str, bytes, str]] = [
    ("entities.creator.upsert", b"{not json", "malformed_json"),
    ("entities.creator.upsert", b"\x00\xff\xfe garbage", "malformed_json"),
    ("entities.creator.upsert", b"[1, 2, 3]", "invalid_payload"),
    (
        "entities.creator.upsert",
        json.dumps({**upsert("x", 1), "updatedAt": "yesterday"}).encode(),
        "invalid_payload",
    ),
    (
        "entities.creator.upsert",
        json.dumps(upsert("x", 1, properties={"$where": "1"})).encode(),
        "invalid_payload",
    ),
    ("entities.video.upsert", json.dumps(upsert("x", 1)).encode(), "subject_mismatch"),
    (
        "entities.creator.upsert",
        json.dumps(upsert("x", 1, groupId="someone-else")).encode(),
        "subject_mismatch",
    ),
    (
        "entities.creator.upsert",
        json.dumps(upsert("x", 1, properties={"blob": "x" * 300_000})).encode(),
        "oversize",
    ),
    ("entities.wizard.upsert", json.dumps(upsert("x", 1)).encode(), "bad_subject"),
    (
        "events.payment_event",
        json.dumps(
            {
                "id": "p",
                "type": "payment_event",
                "actorId": "u",
                "timestamp": 1,
                "metadata": {"status": "done"},
            }
        ).encode(),
        "invalid_payload",
    ),
]


async def test_bad_input_goes_to_the_dlq_with_its_reason_and_loses_nothing_else(
    js: JetStreamContext, bus_db: Database, tenant: str
) -> None:
    dead = await js.subscribe(f"one.v1.{tenant}.dlq.>", ordered_consumer=True)
    for number, (suffix, data, _) in enumerate(HOSTILE):
        await publish(js, f"one.v1.{tenant}.entities.creator.upsert", upsert(f"good-{number}", 1))
        await js.publish(f"one.v1.{tenant}.{suffix}", data, headers={"X-Trace": f"t{number}"})
    await publish(js, f"one.v1.{tenant}.entities.creator.upsert", upsert("good-last", 1))

    received = [await dead.next_msg(timeout=15) for _ in HOSTILE]
    # In the order sent (batches in hand at once dead-letter in any order): the original
    # headers come along, X-Trace among them.
    letters = sorted(received, key=lambda m: int((m.headers or {})["X-Trace"][1:]))
    assert [m.headers["One-Dlq-Reason"] for m in letters] == [code for _, _, code in HOSTILE]  # type: ignore[index]
    for number, (message, (suffix, data, _)) in enumerate(zip(letters, HOSTILE, strict=True)):
        assert message.data == data
        assert message.headers is not None
        assert message.headers["One-Dlq-Subject"] == f"one.v1.{tenant}.{suffix}"
        assert message.headers["One-Dlq-Error"]
        assert message.headers["X-Trace"] == f"t{number}"
    good = await eventually(
        lambda: find(bus_db, "entities", tenant), lambda e: len(e) == len(HOSTILE) + 1
    )
    assert sorted(e["id"] for e in good) == sorted(
        [f"good-{n}" for n in range(len(HOSTILE))] + ["good-last"]
    )
    await dead.unsubscribe()


async def test_the_service_keeps_running_after_bad_input(
    bus: OneBusService, js: JetStreamContext, bus_db: Database, tenant: str
) -> None:
    await js.publish(f"one.v1.{tenant}.entities.creator.upsert", b"\xff" * 10)
    await publish(js, f"one.v1.{tenant}.entities.creator.upsert", upsert("after", 1))
    stored = await eventually(lambda: find(bus_db, "entities", tenant), bool)
    assert [e["id"] for e in stored] == ["after"]

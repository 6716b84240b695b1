"""Nothing a publisher sends can stop the bus: messages at the server's limits, numbers no
store or strict JSON parser can hold, forged audit events. Each was once a way to stop
ingest (or every tenant's queries) or to corrupt what is stored; each is now dead-lettered
at once with its reason while the messages around it are stored.
"""

import json
from typing import Any

import nats.aio.client
import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pymongo.asynchronous.database import AsyncDatabase

from services.runtime.service import OneBusService
from tests.fixtures.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("bus")]

Database = AsyncDatabase[dict[str, Any]]
NOW_MS = 1_763_900_000_000


def upsert(entity_id: str, **extra: Any) -> bytes:
    command = {
        "id": entity_id,
        "type": "creator",
        "name": "Ada",
        "updatedAt": NOW_MS,
        "actorId": "user-1",
        **extra,
    }
    return json.dumps(command).encode()


@pytest.fixture
def js(nats_client: nats.aio.client.Client) -> JetStreamContext:
    return nats_client.jetstream()


async def entity_ids(db: Database, tenant: str) -> list[str]:
    return sorted(e["id"] for e in await db["entities"].find({"groupId": tenant}).to_list())


async def dead_letters(js: JetStreamContext, tenant: str, count: int) -> list[Msg]:
    subscription = await js.subscribe(f"one.v1.{tenant}.dlq.>", ordered_consumer=True)
    try:
        return [await subscription.next_msg(timeout=15) for _ in range(count)]
    finally:
        await subscription.unsubscribe()


async def query(nc: nats.aio.client.Client, tenant: str, name: str, request: Any) -> Any:
    reply = await nc.request(f"one.v1.{tenant}.query.{name}", json.dumps(request).encode(), 5)

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(reply.data, parse_constant=refuse)


async def test_a_message_near_the_max_payload_is_dead_lettered_cut_and_ingest_goes_on(
    nats_client: nats.aio.client.Client, js: JetStreamContext, bus_db: Database, tenant: str
) -> None:
    subject = f"one.v1.{tenant}.entities.creator.upsert"
    # With its header the publish is just under the max payload; the dead letter adds more.
    huge = b"x" * (nats_client.max_payload - 300)
    await js.publish(subject, huge, headers={"X-Trace": "t" * 200})
    await js.publish(subject, upsert("after"))

    [letter] = await dead_letters(js, tenant, 1)
    assert letter.headers is not None
    assert letter.headers["One-Dlq-Reason"] == "oversize"
    assert letter.headers["One-Dlq-Payload-Cut"] == str(len(huge))
    assert letter.headers["X-Trace"] == "t" * 200
    assert huge.startswith(letter.data)
    assert await eventually(lambda: entity_ids(bus_db, tenant), bool) == ["after"]
    # The connection the service shares with every tenant's queries is still up.
    assert (await query(nats_client, tenant, "entities.get", {"id": "after"}))["ok"]


async def test_a_message_with_headers_near_the_limit_is_dead_lettered_with_them_cut(
    js: JetStreamContext, bus_db: Database, tenant: str
) -> None:
    subject = f"one.v1.{tenant}.entities.creator.upsert"
    await js.publish(subject, upsert("big-headers"), headers={"X-Huge": "h" * 60_000})
    await js.publish(subject, upsert("after"))

    [letter] = await dead_letters(js, tenant, 1)
    assert letter.headers is not None
    assert letter.headers["One-Dlq-Reason"] == "oversize"
    assert letter.headers["One-Dlq-Headers-Cut"] == "1"
    assert letter.data == upsert("big-headers")
    assert await eventually(lambda: entity_ids(bus_db, tenant), bool) == ["after"]


POISON: list[tuple[str, bytes, dict[str, str], str]] = [
    ("entities.creator.upsert", upsert("p1", properties={"n": 2**64}), {}, "invalid_payload"),
    (
        "events.user_login",
        b'{"id":"p2","type":"user_login","actorId":"u","timestamp":1,"metadata":{"x":NaN}}',
        {},
        "invalid_payload",
    ),
    (
        "events.user_login",
        b'{"id":"p3","type":"user_login","actorId":"u","timestamp":1,"metadata":{"x":-1e999}}',
        {},
        "invalid_payload",
    ),
    (
        "protocols.ag-ui.CUSTOM",
        b'{"type":"CUSTOM","name":"n","value":{"big":123456789012345678901234567890}}',
        {"Nats-Msg-Id": "p4", "One-Actor-Id": "agent"},
        "invalid_payload",
    ),
    (
        "protocols.a2a.Message",
        b'{"messageId":"m","role":"ROLE_USER","parts":[{"text":"hi"}]}',
        {"Nats-Msg-Id": "p5", "One-Actor-Id": "agent", "One-Timestamp": "9" * 5000},
        "invalid_envelope",
    ),
    (
        "entities.creator.upsert",
        upsert("p6", updatedAt=253_402_300_799_000),
        {},
        "invalid_payload",
    ),
]


async def test_poison_values_are_dead_lettered_at_once_and_their_batch_is_stored(
    js: JetStreamContext, bus_db: Database, tenant: str
) -> None:
    expected = []
    for number, (suffix, data, headers, _) in enumerate(POISON):
        await js.publish(f"one.v1.{tenant}.entities.creator.upsert", upsert(f"good-{number}"))
        await js.publish(f"one.v1.{tenant}.{suffix}", data, headers=headers or None)
        expected.append(f"good-{number}")

    letters = await dead_letters(js, tenant, len(POISON))
    # Batches in hand at once dead-letter in any order: put them back in publish order.
    letters.sort(key=lambda m: int((m.headers or {})["One-Dlq-Stream-Seq"]))
    assert [m.headers["One-Dlq-Reason"] for m in letters] == [r for *_, r in POISON]  # type: ignore[index]
    stored = await eventually(lambda: entity_ids(bus_db, tenant), lambda ids: len(ids) >= 6)
    assert stored == sorted(expected)


async def test_a_published_event_cannot_take_the_id_of_an_audit_event(
    nats_client: nats.aio.client.Client, js: JetStreamContext, bus_db: Database, tenant: str
) -> None:
    # Once, lifecycle ids were `lc~<op>~<updatedAt>~<entity>`: publishable ones.
    for forged_id in (f"lc~updated~{NOW_MS}~c1", f"lc@updated@{NOW_MS}@c1"):
        forged = {
            "id": forged_id,
            "type": "user_login",
            "actorId": "mallory",
            "timestamp": NOW_MS,
            "metadata": {},
        }
        await js.publish(f"one.v1.{tenant}.events.user_login", json.dumps(forged).encode())
    forged_type = {
        "id": "e-forged",
        "type": "entity_created",
        "actorId": "mallory",
        "targetId": "c1",
        "timestamp": NOW_MS,
        "metadata": {"entityType": "creator"},
    }
    await js.publish(f"one.v1.{tenant}.events.entity_created", json.dumps(forged_type).encode())
    await js.publish(f"one.v1.{tenant}.entities.creator.upsert", upsert("c1"))

    reasons = sorted(m.headers["One-Dlq-Reason"] for m in await dead_letters(js, tenant, 2))  # type: ignore[index]
    assert reasons == ["invalid_payload", "invalid_payload"]  # the `@` id, the forged type

    async def audit() -> list[dict[str, Any]]:
        return await bus_db["events"].find({"groupId": tenant, "targetId": "c1"}).to_list()

    [created] = await eventually(audit, bool)
    assert (created["type"], created["actorId"]) == ("entity_created", "user-1")
    logins = await bus_db["events"].find({"groupId": tenant, "type": "user_login"}).to_list()
    assert [e["actorId"] for e in logins] == ["mallory"]  # stored as its own record


async def test_replies_are_strict_json_whatever_another_tool_stored(
    bus: OneBusService,
    nats_client: nats.aio.client.Client,
    js: JetStreamContext,
    bus_db: Database,
    tenant: str,
) -> None:
    await js.publish(f"one.v1.{tenant}.entities.creator.upsert", upsert("n1"))
    await eventually(lambda: entity_ids(bus_db, tenant), bool)
    await bus_db["entities"].update_one(
        {"groupId": tenant, "id": "n1"}, {"$set": {"properties.ratio": float("nan")}}
    )
    reply = await query(nats_client, tenant, "entities.get", {"id": "n1"})
    assert reply["data"]["properties"] == {"ratio": None}

"""Publish on the ingest subjects, then ask the running service: the seed's three patterns.

The whole path on real servers: JetStream in, the service's ingest, MongoDB, and its query
responder answering over core NATS.
"""

import json
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from contracts.subjects import connection_subject, entity_subject, event_subject, query_subject
from tests.fixtures.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("bus")]

Document = dict[str, Any]


async def _publish(nats_client: NatsClient, subject: str, payload: Document) -> None:
    js = nats_client.jetstream()
    # The stream's duplicate window spans tenants: other tests publish the same ids.
    msg_id = f"{subject}:{payload['id']}"
    await js.publish(subject, json.dumps(payload).encode(), headers={"Nats-Msg-Id": msg_id})


async def test_what_was_published_can_be_queried(nats_client: NatsClient, tenant: str) -> None:
    def upsert(entity_id: str, entity_type: str, at: int) -> Document:
        return {
            "id": entity_id,
            "type": entity_type,
            "name": f"name of {entity_id}",
            "createdAt": at,
            "updatedAt": at,
            "actorId": "admin",
        }

    await _publish(
        nats_client, entity_subject(tenant, "creator", "upsert"), upsert("ada", "creator", 1)
    )
    await _publish(
        nats_client, entity_subject(tenant, "blog_post", "upsert"), upsert("post", "blog_post", 2)
    )
    await _publish(
        nats_client,
        connection_subject(tenant, "owns", "create"),
        {
            "id": "own",
            "fromEntityId": "ada",
            "toEntityId": "post",
            "relationshipType": "owns",
            "createdAt": 3,
        },
    )
    for n, status in enumerate(["requested", "processed", "processed"]):
        await _publish(
            nats_client,
            event_subject(tenant, "payment_event"),
            {
                "id": f"pay-{n}",
                "type": "payment_event",
                "actorId": "ada",
                "timestamp": 10 + n,
                "metadata": {"status": status, "protocol": "x402"},
            },
        )

    async def ask(name: str, request: Document) -> Document:
        reply = await nats_client.request(
            query_subject(tenant, name), json.dumps(request).encode(), timeout=10
        )
        answer: Document = json.loads(reply.data)
        return answer

    payments_request = {
        "actorId": "ada",
        "type": "payment_event",
        "metadata": {"status": "processed"},
    }
    payments = await eventually(
        lambda: ask("events.list", payments_request),
        lambda answer: len(answer["data"]["items"]) == 2,
    )
    assert [item["id"] for item in payments["data"]["items"]] == ["pay-2", "pay-1"]

    owned = await eventually(
        lambda: ask(
            "connections.list",
            {"fromEntityId": "ada", "relationshipType": "owns", "withEntities": True},
        ),
        lambda answer: (
            bool(answer["data"]["items"]) and answer["data"]["items"][0]["toEntity"] is not None
        ),
    )
    assert owned["data"]["items"][0]["toEntity"]["name"] == "name of post"

    creator = await ask("entities.get", {"id": "ada", "type": "creator"})
    assert creator["data"]["name"] == "name of ada"
    assert creator["data"]["groupId"] == tenant


async def test_a_published_entity_is_found_by_name_and_a_rename_moves_it(
    nats_client: NatsClient, tenant: str
) -> None:
    def upsert(name: str, at: int) -> Document:
        return {
            "id": "ada",
            "type": "creator",
            "name": name,
            "updatedAt": at,
            "actorId": "admin",
        }

    async def search(text: str) -> list[str]:
        reply = await nats_client.request(
            query_subject(tenant, "entities.search"),
            json.dumps({"text": text}).encode(),
            timeout=10,
        )
        return [item["id"] for item in json.loads(reply.data)["data"]["items"]]

    subject = entity_subject(tenant, "creator", "upsert")
    js = nats_client.jetstream()
    await js.publish(subject, json.dumps(upsert("Ada Lovelace", 1)).encode())
    assert await eventually(lambda: search("lovel"), lambda ids: ids == ["ada"]) == ["ada"]

    await js.publish(subject, json.dumps(upsert("Ada Byron", 2)).encode())
    assert await eventually(lambda: search("byron"), lambda ids: ids == ["ada"]) == ["ada"]
    assert await search("lovelace") == []

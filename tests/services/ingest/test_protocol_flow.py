"""Raw protocol messages through NATS into MongoDB and back out through queries.

Every good sample under tests/contracts/protocols/samples is published as it is, with the
envelope in headers, by a plain nats-py client; it must come back from `events.list` as
the ontology event it means. Malformed samples must land in the DLQ.
"""

import json
import uuid
from typing import Any

import nats.aio.client
import pytest
from nats.js import JetStreamContext

from contracts.dead_letters import ORIGINAL_HEADER_PREFIX
from tests.contracts.protocols import test_a2a
from tests.contracts.protocols.sample_files import load
from tests.contracts.protocols.specified import SPECIFIED
from tests.fixtures.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("bus")]


@pytest.fixture
def js(nats_client: nats.aio.client.Client) -> JetStreamContext:
    return nats_client.jetstream()


async def query(client: nats.aio.client.Client, tenant: str, name: str, request: Any) -> Any:
    reply = await client.request(
        f"one.v1.{tenant}.query.{name}", json.dumps(request).encode(), timeout=10
    )
    body = json.loads(reply.data)
    assert body["ok"], body
    return body["data"]


async def send(
    js: JetStreamContext,
    tenant: str,
    protocol: str,
    message_type: str,
    payload: dict[str, Any],
    *,
    record_id: str | None = None,
    actor: str = "agent-client",
    target: str | None = "agent-server",
    correlation: str | None = None,
) -> str:
    record_id = record_id or uuid.uuid4().hex
    headers = {"Nats-Msg-Id": record_id, "One-Actor-Id": actor}
    if target:
        headers["One-Target-Id"] = target
    if correlation:
        headers["One-Correlation-Id"] = correlation
    subject = f"one.v1.{tenant}.protocols.{protocol}.{message_type}"
    await js.publish(subject, json.dumps(payload).encode(), headers=headers)
    return record_id


@pytest.mark.parametrize("protocol", list(SPECIFIED))
async def test_every_good_sample_is_stored_as_the_event_it_means(
    protocol: str, js: JetStreamContext, nats_client: nats.aio.client.Client, tenant: str
) -> None:
    good, _ = SPECIFIED[protocol]
    sent = {
        await send(js, tenant, protocol, expected.message_type, load(protocol, name)): (
            name,
            expected,
        )
        for name, expected in sorted(good.items())
    }

    async def stored() -> list[dict[str, Any]]:
        data = await query(
            nats_client, tenant, "events.list", {"metadata": {"protocol": protocol}, "limit": 500}
        )
        return [e for e in data["items"] if e["id"] in sent]

    events = await eventually(stored, lambda e: len(e) == len(sent))
    assert len(events) == len(sent)
    for event in events:
        name, expected = sent[event["id"]]
        assert event["type"] == expected.event_type, name
        assert event["metadata"]["messageType"] == expected.message_type, name
        for key, value in expected.metadata.items():
            assert event["metadata"].get(key) == value, (name, key)
        assert event["actorId"] == "agent-client"


@pytest.mark.parametrize("protocol", list(SPECIFIED))
async def test_every_malformed_sample_is_dead_lettered_with_the_reason(
    protocol: str, js: JetStreamContext, tenant: str
) -> None:
    _, malformed = SPECIFIED[protocol]
    dead = await js.subscribe(f"one.v1.{tenant}.dlq.protocols", ordered_consumer=True)
    sent = {}
    for name, rejected in sorted(malformed.items()):
        record_id = await send(js, tenant, protocol, rejected.message_type, load(protocol, name))
        sent[record_id] = rejected
    # Matched by the original message id: batches in hand at once dead-letter in any order.
    letters = [await dead.next_msg(timeout=15) for _ in malformed]
    for letter in letters:
        assert letter.headers is not None
        rejected = sent.pop(letter.headers[ORIGINAL_HEADER_PREFIX + "Msg-Id"])
        assert letter.headers["One-Dlq-Reason"] == "invalid_payload"
        assert rejected.reason.lower() in letter.headers["One-Dlq-Error"].lower()
    assert sent == {}
    await dead.unsubscribe()


A2A_TASK_LIFE = [
    ("SendMessage", "v1_send_message_new_task.json"),
    ("Task", "v1_task_submitted.json"),
    ("TaskStatusUpdateEvent", "v1_task_status_update_working.json"),
    ("TaskStatusUpdateEvent", "v1_task_status_update_completed.json"),
]


async def test_the_history_of_one_a2a_task_is_one_query(
    js: JetStreamContext, nats_client: nats.aio.client.Client, tenant: str
) -> None:
    for message_type, name in A2A_TASK_LIFE:
        await send(js, tenant, "a2a", message_type, load("a2a", name))

    request = {"metadata": {"taskId": test_a2a.TASK}}

    async def history() -> list[dict[str, Any]]:
        return list((await query(nats_client, tenant, "events.list", request))["items"])

    events = await eventually(history, lambda e: len(e) >= 3)
    # Newest first; the raw A2A states are kept where the seed's enums have no value.
    states = [e["metadata"].get("rawState") for e in reversed(events)]
    assert states[-2:] == ["TASK_STATE_WORKING", "TASK_STATE_COMPLETED"]
    assert {e["metadata"]["taskId"] for e in events} == {test_a2a.TASK}


async def test_the_life_of_one_ap2_purchase_is_one_query(
    js: JetStreamContext, nats_client: nats.aio.client.Client, tenant: str
) -> None:
    purchase = f"purchase-{uuid.uuid4().hex[:8]}"
    for message_type, name in [
        ("IntentMandate", "v01_intent_mandate.json"),
        ("CartMandate", "v01_cart_mandate.json"),
        ("PaymentMandate", "v01_payment_mandate.json"),
    ]:
        await send(js, tenant, "ap2", message_type, load("ap2", name), correlation=purchase)
    await send(
        js,
        tenant,
        "x402",
        "SettleResponse",
        load("x402", "v2_settle_response_success.json"),
        correlation=purchase,
    )

    request = {"metadata": {"correlationId": purchase}}

    async def life() -> list[dict[str, Any]]:
        return list((await query(nats_client, tenant, "events.list", request))["items"])

    events = await eventually(life, lambda e: len(e) == 4)
    kinds = sorted(
        (e["type"], e["metadata"].get("mandateType") or e["metadata"].get("status")) for e in events
    )
    assert kinds == [
        ("mandate_event", "cart"),
        ("mandate_event", "intent"),
        ("payment_event", "processed"),
        ("payment_event", "requested"),
    ]


async def test_protocol_messages_between_two_parties_make_one_connection(
    js: JetStreamContext, nats_client: nats.aio.client.Client, tenant: str
) -> None:
    for _ in range(3):
        await send(js, tenant, "a2a", "Message", load("a2a", "v1_message_user.json"))

    async def connections() -> list[dict[str, Any]]:
        request = {"fromEntityId": "agent-client", "protocol": "a2a"}
        return list((await query(nats_client, tenant, "connections.list", request))["items"])

    found = await eventually(connections, bool)
    assert [(c["relationshipType"], c["toEntityId"]) for c in found] == [
        ("communicated", "agent-server")
    ]
    assert found[0]["metadata"]["protocol"] == "a2a"


async def test_an_unknown_protocol_is_stored_as_it_is_and_visible_in_queries(
    js: JetStreamContext, nats_client: nats.aio.client.Client, tenant: str
) -> None:
    payload = {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "search"}}
    record = await send(js, tenant, "mcp", "ToolCall", payload)

    async def found() -> list[dict[str, Any]]:
        request = {"metadata": {"protocol": "mcp", "messageType": "ToolCall"}}
        return list((await query(nats_client, tenant, "events.list", request))["items"])

    [event] = await eventually(found, bool)
    assert event["id"] == record
    assert event["type"] == "communication_event"
    assert event["metadata"]["payload"] == payload


async def test_a_protocol_message_without_an_actor_is_dead_lettered(
    js: JetStreamContext, tenant: str
) -> None:
    dead = await js.subscribe(f"one.v1.{tenant}.dlq.protocols", ordered_consumer=True)
    subject = f"one.v1.{tenant}.protocols.a2a.Message"
    await js.publish(
        subject,
        json.dumps(load("a2a", "v1_message_user.json")).encode(),
        headers={"Nats-Msg-Id": "m"},
    )
    letter = await dead.next_msg(timeout=15)
    assert letter.headers is not None
    assert letter.headers["One-Dlq-Reason"] == "invalid_envelope"
    assert "One-Actor-Id" in letter.headers["One-Dlq-Error"]
    await dead.unsubscribe()

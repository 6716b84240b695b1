"""Outcomes on real servers: a publisher that sends `One-Outcome-To` hears once what
became of its write, stored (with what it did to each record) or rejected (with the dead
letter's reason)."""

import json
import uuid
from typing import Any

import nats.aio.client
import pytest

from contracts.outcomes import OUTCOME_TO_HEADER
from services.runtime.service import OneBusService
from tests.contracts.protocols.sample_files import load
from tests.fixtures.waiting import eventually
from tests.services.ingest.test_ingest_flow import upsert

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("bus")]

Client = nats.aio.client.Client


class Asker:
    """Publishes with `One-Outcome-To` and waits for the answer at its own inbox."""

    def __init__(self, client: Client, tenant: str) -> None:
        self.client = client
        self.js = client.jetstream()
        self.tenant = tenant

    async def ask(
        self, subject: str, payload: Any, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        inbox = self.client.new_inbox()
        answers = await self.client.subscribe(inbox)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent = {"Nats-Msg-Id": uuid.uuid4().hex, **(headers or {}), OUTCOME_TO_HEADER: inbox}
        ack = await self.js.publish(f"one.v1.{self.tenant}.{subject}", data, headers=sent)
        msg = await answers.next_msg(timeout=20)
        await answers.unsubscribe()
        outcome: dict[str, Any] = json.loads(msg.data)
        assert (outcome["stream"], outcome["seq"]) == (ack.stream, ack.seq)
        return outcome

    async def effect(self, subject: str, payload: Any) -> tuple[str, dict[str, Any]]:
        outcome = await self.ask(subject, payload)
        assert outcome["status"] == "stored", outcome
        [record] = outcome["records"]
        return record["effect"], record


@pytest.fixture
def asker(nats_client: Client, tenant: str) -> Asker:
    return Asker(nats_client, tenant)


async def test_entity_writes_say_what_they_did(asker: Asker) -> None:
    entity = "e-" + uuid.uuid4().hex[:8]
    effect, record = await asker.effect("entities.creator.upsert", upsert(entity, 2000))
    assert (effect, record["collection"], record["id"]) == ("created", "entities", entity)
    created_version = record["version"]

    effect, record = await asker.effect("entities.creator.upsert", upsert(entity, 3000, "B"))
    assert effect == "updated"
    assert record["version"] > created_version

    # Older than what is stored: nothing changes, and the stored version is the newer one.
    effect, stale = await asker.effect("entities.creator.upsert", upsert(entity, 1000, "Old"))
    assert effect == "unchanged"
    assert stale["version"] == record["version"]

    older_delete = {"id": entity, "updatedAt": 2500, "actorId": "u"}
    assert (await asker.effect("entities.creator.delete", older_delete))[0] == "unchanged"
    archive = {"id": entity, "updatedAt": 4000, "actorId": "u"}
    assert (await asker.effect("entities.creator.archive", archive))[0] == "archived"
    delete = {"id": entity, "updatedAt": 5000, "actorId": "u"}
    assert (await asker.effect("entities.creator.delete", delete))[0] == "deleted"


async def test_events_connections_and_tags_say_what_they_did(asker: Asker) -> None:
    event_id = "ev-" + uuid.uuid4().hex[:8]
    event = {"id": event_id, "type": "user_login", "actorId": "u", "timestamp": 1, "metadata": {}}
    assert await asker.effect("events.user_login", event) == (
        "created",
        {"collection": "events", "id": event_id, "effect": "created"},
    )
    # The same id again (another Nats-Msg-Id, so the stream keeps it): events are immutable.
    assert (await asker.effect("events.user_login", event))[0] == "duplicate"

    link = "c-" + uuid.uuid4().hex[:8]
    connection = {"id": link, "fromEntityId": "a", "toEntityId": "b", "relationshipType": "owns"}
    assert (await asker.effect("connections.owns.create", connection))[0] == "created"
    assert (await asker.effect("connections.owns.create", connection))[0] == "duplicate"
    assert (await asker.effect("connections.owns.delete", {"id": link}))[0] == "deleted"

    tag = {"entityId": "e-" + uuid.uuid4().hex[:8], "key": "topic", "value": "math"}
    effect, record = await asker.effect("tags.set", tag)
    assert (effect, record["id"], record["key"], record["value"]) == (
        "created",
        tag["entityId"],
        "topic",
        "math",
    )
    assert (await asker.effect("tags.set", tag))[0] == "updated"
    assert (await asker.effect("tags.delete", tag))[0] == "deleted"


async def test_a_protocol_message_answers_with_the_records_it_became(asker: Asker) -> None:
    record_id = "p-" + uuid.uuid4().hex[:8]
    message = load("a2a", "v1_send_message_new_task.json")
    # A protocol message's record id is its Nats-Msg-Id.
    headers = {"One-Actor-Id": "agent-client", "Nats-Msg-Id": record_id}
    outcome = await asker.ask("protocols.a2a.SendMessage", message, headers)
    assert outcome["status"] == "stored", outcome
    first, *related = outcome["records"]
    assert (first["collection"], first["id"], first["effect"]) == ("events", record_id, "created")
    assert all(record["effect"] == "created" for record in related), related


REJECTED = [
    ("entities.wizard.upsert", json.dumps(upsert("x", 1)).encode(), "bad_subject"),
    ("entities.creator.upsert", b'{"id": ', "malformed_json"),
    ("entities.creator.upsert", json.dumps({**upsert("x", 1), "updatedAt": "no"}).encode(),
     "invalid_payload"),
    ("entities.video.upsert", json.dumps(upsert("x", 1)).encode(), "subject_mismatch"),
    ("entities.creator.upsert",
     json.dumps(upsert("x", 1, properties={"blob": "x" * 300_000})).encode(), "oversize"),
    ("protocols.a2a.SendMessage", b"{}", "invalid_envelope"),
]  # fmt: skip


@pytest.mark.parametrize(("subject", "payload", "reason"), REJECTED)
async def test_a_rejected_write_answers_with_its_dead_letter_reason(
    asker: Asker, subject: str, payload: bytes, reason: str
) -> None:
    outcome = await asker.ask(subject, payload)
    assert (outcome["status"], outcome["code"]) == ("rejected", reason), outcome
    assert outcome["message"]


async def test_an_outcome_aimed_at_another_tenants_inbox_is_refused_and_counted(
    asker: Asker, bus: OneBusService
) -> None:
    """An open server: the reply rule alone stops it (the secure stack's test adds the
    permissions)."""
    other = f"_INBOX_TENANT.other-{uuid.uuid4().hex[:6]}.x"
    stolen = await asker.client.subscribe(other)

    async def refused() -> float:
        value = bus.metrics_registry.get_sample_value(
            "one_bus_ingest_outcomes_total", {"result": "refused"}
        )
        return value or 0.0

    before = await refused()
    for target in (other, "not an inbox", "_INBOX.*", "one.v1.other.entities.creator.upsert"):
        headers = {"Nats-Msg-Id": uuid.uuid4().hex, OUTCOME_TO_HEADER: target}
        payload = json.dumps(upsert("victim", 1)).encode()
        await asker.js.publish(
            f"one.v1.{asker.tenant}.entities.creator.upsert", payload, headers=headers
        )
    seen = await eventually(refused, lambda n: n >= before + 4)
    assert seen == before + 4
    # Refused before any publish: the other tenant's inbox got nothing.
    await asker.client.flush()
    assert stolen.pending_msgs == 0
    await stolen.unsubscribe()

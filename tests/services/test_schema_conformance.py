"""Everything a running ONE Bus sends conforms to the exported schemas and the AsyncAPI.

A plain nats-py client publishes on the ingest subjects, queries and watches, and every
change, dead letter (with its headers), query reply and error, watch reply, push and end
it receives, and every write outcome at its `One-Outcome-To` inbox, is checked with
`jsonschema` against the files `one-bus schema export` wrote: the schema of its kind, and
the message of the AsyncAPI channel its subject belongs to (for outcomes, the inbox's).
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from contracts.outcomes import EFFECTS, OUTCOME_TO_HEADER
from contracts.subjects import query_subject, watch_subject
from services.runtime.service import OneBusService
from tests.contracts.exported import Exported, export
from tests.contracts.protocols.sample_files import load
from tests.fixtures.waiting import eventually
from tests.services.ingest.test_outcomes import REJECTED

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("bus")]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    directory: Path = tmp_path_factory.mktemp("exported")
    export(directory)
    return Exported(directory)


class Heard:
    """Every message on a subject filter, in arrival order."""

    def __init__(self) -> None:
        self.messages: list[Msg] = []

    async def take(self, msg: Msg) -> None:
        self.messages.append(msg)

    def bodies(self) -> list[Any]:
        return [json.loads(msg.data) for msg in self.messages]


@pytest.fixture
async def heard(nats_client: NatsClient, tenant: str) -> AsyncIterator[dict[str, Heard]]:
    listeners = {"changes": Heard(), "dlq": Heard()}
    subscriptions = [
        await nats_client.subscribe(f"one.v1.{tenant}.{kind}.>", cb=listener.take)
        for kind, listener in listeners.items()
    ]
    await nats_client.flush()
    yield listeners
    for subscription in subscriptions:
        await subscription.unsubscribe()


async def publish(js: JetStreamContext, subject: str, payload: Any) -> None:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    await js.publish(subject, data)


async def ask(client: NatsClient, subject: str, payload: Any) -> tuple[str, Any]:
    reply = await client.request(subject, json.dumps(payload).encode(), timeout=10)
    return subject, json.loads(reply.data)


def entity(entity_id: str, updated_at: int) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": "creator",
        "name": "Ada Lovelace",
        "updatedAt": updated_at,
        "actorId": "u1",
        "properties": {"level": "beginner"},
    }


def link(link_id: str, relationship: str, metadata: Any = None) -> dict[str, Any]:
    body = {
        "id": link_id,
        "fromEntityId": "e1",
        "toEntityId": "e2",
        "relationshipType": relationship,
    }
    return {**body, "metadata": metadata} if metadata is not None else body


async def test_every_change_and_dead_letter_conforms(
    nats_client: NatsClient, heard: dict[str, Heard], tenant: str, exported: Exported
) -> None:
    js = nats_client.jetstream()
    on = f"one.v1.{tenant}"
    await publish(js, f"{on}.entities.creator.upsert", entity("e1", 10))
    await publish(js, f"{on}.entities.creator.upsert", entity("e2", 10))
    await publish(
        js, f"{on}.entities.creator.archive", {"id": "e2", "updatedAt": 11, "actorId": "u1"}
    )
    await publish(
        js, f"{on}.entities.creator.delete", {"id": "e2", "updatedAt": 12, "actorId": "u1"}
    )
    # A delete before any upsert leaves a tombstone entity.
    await publish(js, f"{on}.entities.video.delete", {"id": "e9", "updatedAt": 5, "actorId": "u1"})
    await publish(js, f"{on}.connections.owns.create", link("k1", "owns"))
    await publish(
        js,
        f"{on}.connections.transacted.create",
        link("k2", "transacted", {"transactionType": "payment", "protocol": "X402"}),
    )
    # Deleted on another type's subject: the change is the stored connection's own.
    await publish(js, f"{on}.connections.owns.delete", {"id": "k2", "updatedAt": 20})
    await publish(js, f"{on}.connections.owns.delete", {"id": "k1", "updatedAt": 21})
    # Deleted before its create arrived: a tombstone. (`follows` is no type: a dead letter.)
    await publish(js, f"{on}.connections.follows.delete", {"id": "k3"})
    await publish(js, f"{on}.connections.following.delete", {"id": "k3", "updatedAt": 22})
    await publish(js, f"{on}.tags.set", {"entityId": "e1", "key": "topic", "value": "ai"})
    await publish(js, f"{on}.tags.delete", {"entityId": "e1", "key": "topic", "value": "ai"})
    await publish(
        js,
        f"{on}.events.payment_event",
        {
            "id": "v1",
            "type": "payment_event",
            "actorId": "e1",
            "timestamp": 30,
            "metadata": {"status": "processed"},
        },
    )
    # Dead letters: a bad subject, bad JSON, a failed variant, a lifecycle type.
    await publish(
        js,
        f"{on}.events.payment_event",
        {
            "id": "v2",
            "type": "payment_event",
            "actorId": "e1",
            "timestamp": 30,
            "metadata": {"status": "bogus"},
        },
    )
    await publish(
        js,
        f"{on}.events.entity_created",
        {"id": "v3", "type": "entity_created", "actorId": "e1", "timestamp": 30, "metadata": {}},
    )
    await publish(js, f"{on}.connections.transacted.create", link("k4", "transacted"))
    await publish(js, f"{on}.entities.creator.upsert", b"{not json")
    await publish(js, f"{on}.entities.creator.frobnicate", entity("e3", 1))

    def changes_in(bodies: list[Any], collection: str, op: str) -> list[Any]:
        return [b for b in bodies if b["collection"] == collection and b["op"] == op]

    await eventually(
        lambda: asyncio.sleep(0, heard["changes"].bodies()),
        lambda bodies: (
            len(changes_in(bodies, "connections", "delete")) >= 4
            and len(changes_in(bodies, "tags", "delete")) == 1
            and len(changes_in(bodies, "events", "create")) >= 6
        ),
    )
    await eventually(lambda: asyncio.sleep(0, len(heard["dlq"].messages)), lambda count: count >= 5)
    changes = heard["changes"].messages
    seen = {(json.loads(m.data)["collection"], json.loads(m.data)["op"]) for m in changes}
    assert seen == {
        ("entities", "upsert"),
        ("entities", "archive"),
        ("entities", "delete"),
        ("connections", "create"),
        ("connections", "delete"),
        ("tags", "set"),
        ("tags", "delete"),
        ("events", "create"),
    }
    for msg in changes:
        body = json.loads(msg.data)
        assert exported.errors("change", body) == [], (msg.subject, body)
        exported.conforms_on(msg.subject, body, msg.headers)
        # The subject's last token is the record's type; for tags, the op.
        record = body["record"]
        token = {
            "entities": record.get("type"),
            "connections": record.get("relationshipType"),
            "events": record.get("type"),
            "tags": body["op"],
        }[body["collection"]]
        assert msg.subject == f"{on}.changes.{body['collection']}.{token}"
    deleted = {
        b["record"]["id"]: b["record"]
        for b in changes_in(heard["changes"].bodies(), "connections", "delete")
    }
    # Subscribers learn which connection went: its ends, type and metadata.
    assert deleted["k2"]["fromEntityId"] == "e1"
    assert deleted["k2"]["metadata"]["protocol"] == "x402"
    assert deleted["k2"]["relationshipType"] == "transacted"
    assert exported.errors("record.connection", deleted["k1"]) == []
    assert exported.errors("record.connection-tombstone", deleted["k3"]) == []
    assert (deleted["k3"]["relationshipType"], deleted["k3"]["deletedAt"]) == ("following", 22)

    reasons = set()
    for msg in heard["dlq"].messages:
        headers = msg.headers or {}
        assert exported.errors("dlq.headers", headers) == [], headers
        exported.conforms_on(msg.subject, None, headers)
        reasons.add(headers["One-Dlq-Reason"])
    assert reasons >= {"invalid_payload", "malformed_json", "bad_subject"}


async def test_every_query_reply_and_error_conforms(
    nats_client: NatsClient, tenant: str, exported: Exported, bus: OneBusService
) -> None:
    js = nats_client.jetstream()
    on = f"one.v1.{tenant}"
    await publish(js, f"{on}.entities.creator.upsert", entity("e1", 10))
    await publish(js, f"{on}.entities.creator.upsert", entity("e2", 11))
    await publish(js, f"{on}.connections.owns.create", link("k1", "owns"))
    await publish(js, f"{on}.tags.set", {"entityId": "e1", "key": "topic", "value": "ai"})
    await publish(
        js,
        f"{on}.events.payment_event",
        {
            "id": "v1",
            "type": "payment_event",
            "actorId": "e1",
            "timestamp": 30,
            "metadata": {"status": "processed"},
        },
    )

    async def tagged() -> Any:
        return (await ask(nats_client, query_subject(tenant, "tags.list"), {"entityId": "e1"}))[1]

    await eventually(tagged, lambda body: body["ok"] and body["data"]["items"])
    first_page = await ask(nats_client, query_subject(tenant, "entities.list"), {"limit": 1})
    cursor = first_page[1]["data"]["nextCursor"]
    assert cursor is not None
    other = f"{tenant}x"
    asked = [
        ("entities.get", {"id": "e1"}),
        ("entities.get", {"ids": ["e1", "nope"]}),
        ("entities.get", {"id": "nope"}),
        ("entities.get", {}),
        ("entities.list", {"limit": 1}),
        ("entities.list", {"limit": 1, "cursor": cursor}),
        ("entities.list", {"properties": {"$where": "1"}}),
        ("entities.search", {"text": "ada"}),
        ("entities.search", {"text": "!!!"}),
        ("connections.list", {"fromEntityId": "e1", "withEntities": True}),
        ("connections.list", {}),
        ("events.list", {"metadata": {"status": "processed"}}),
        ("events.list", {"metadata": {"$where": {"$gt": ""}}}),
        ("tags.list", {"entityId": "e1"}),
        ("tags.list", {"key": "topic", "value": "ai"}),
        ("tags.list", {}),
        ("graph.traverse", {"startId": "e1", "direction": "both", "depth": 2}),
        ("stats.counts", {"collection": "entities", "groupBy": "status"}),
        ("stats.counts", {"collection": "tags", "groupBy": "type"}),
    ]
    answers = [await ask(nats_client, query_subject(tenant, name), body) for name, body in asked]
    # A cursor of another tenant, an unknown query, a body that is not JSON.
    answers.append(
        await ask(
            nats_client, query_subject(other, "entities.list"), {"limit": 1, "cursor": cursor}
        )
    )
    answers.append(await ask(nats_client, query_subject(tenant, "entities.frobnicate"), {}))
    raw = await nats_client.request(query_subject(tenant, "tags.list"), b"{nope", timeout=10)
    answers.append((query_subject(tenant, "tags.list"), json.loads(raw.data)))
    codes = set()
    for subject, body in answers:
        name = subject.split(".query.", 1)[1]
        schema = f"query.{name}.reply" if f"query.{name}.reply" in exported.schemas else "error"
        assert exported.errors(schema, body) == [], (subject, body)
        assert exported.errors("error", body) == [] or body["ok"], (subject, body)
        if not body["ok"]:
            codes.add(body["error"]["code"])
            if body["error"]["code"] == "invalid_request" and isinstance(
                body["error"]["details"], list
            ):
                for problem in body["error"]["details"]:
                    assert set(problem) == {"loc", "msg", "type"}, (subject, problem)
    assert codes == {"invalid_request", "not_found"}
    foreign = answers[len(asked)][1]["error"]
    assert foreign["details"][0]["loc"] == ["cursor"]
    assert foreign["details"][0]["type"]


async def test_every_watch_reply_push_and_end_conforms(
    nats_client: NatsClient, tenant: str, exported: Exported
) -> None:
    js = nats_client.jetstream()
    deliver_to = nats_client.new_inbox()
    pushed = Heard()
    subscription = await nats_client.subscribe(deliver_to, cb=pushed.take)

    async def watch(name: str, body: Any) -> Any:
        subject, answer = await ask(nats_client, watch_subject(tenant, name), body)
        schema = f"watch.{name}.reply"
        assert exported.errors(schema, answer) == [], (subject, answer)
        return answer

    started = await watch("entities.list", {"type": "creator", "deliverTo": deliver_to})
    watch_id = started["data"]["watchId"]
    refused = [
        await watch("entities.list", {"deliverTo": deliver_to, "cursor": "abc"}),
        await watch("entities.list", {"deliverTo": f"one.v1.{tenant}.entities.creator.upsert"}),
        await watch("entities.get", {"deliverTo": deliver_to}),
        await watch("renew", {"watchId": "nope"}),
    ]
    for answer in refused:
        assert answer["ok"] is False
        details = answer["error"]["details"]
        for problem in details if isinstance(details, list) else []:
            assert set(problem) == {"loc", "msg", "type"}, answer
    assert [a["error"]["code"] for a in refused] == ["invalid_request"] * 3 + ["not_found"]
    await publish(js, f"one.v1.{tenant}.entities.creator.upsert", entity("w1", 10))
    await eventually(lambda: asyncio.sleep(0, len(pushed.messages)), lambda n: n >= 1)
    await watch("renew", {"watchId": watch_id})
    await watch("stop", {"watchId": watch_id})
    bodies = await eventually(
        lambda: asyncio.sleep(0, pushed.bodies()), lambda b: any(m.get("ended") for m in b)
    )
    await subscription.unsubscribe()
    assert bodies[0]["version"] == 2
    assert bodies[-1]["ended"] is True
    for body in bodies:
        for schema in (
            ("watch.ended",) if body.get("ended") else ("watch.push", "watch.entities.list.push")
        ):
            assert exported.errors(schema, body) == [], (schema, body)
        message = "watchEnded" if body.get("ended") else "watchPushEntitiesList"
        assert exported.message(message).is_valid(body), (message, body)
    # A push of another query's shape would not do: the result is typed per query.
    assert exported.errors("watch.tags.list.push", bodies[0]) != []


async def test_every_outcome_kind_conforms(
    nats_client: NatsClient, tenant: str, exported: Exported
) -> None:
    """Each effect and each rejection a publisher can cause, as the running service answers
    it at `One-Outcome-To`; the write itself, header included, is its channel's message."""
    js = nats_client.jetstream()
    on = f"one.v1.{tenant}"
    answers: list[Any] = []

    async def ask(subject: str, payload: Any, headers: dict[str, str] | None = None) -> Any:
        inbox = nats_client.new_inbox()
        answered = await nats_client.subscribe(inbox)
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent = {"Nats-Msg-Id": uuid.uuid4().hex, **(headers or {}), OUTCOME_TO_HEADER: inbox}
        await js.publish(f"{on}.{subject}", data, headers=sent)
        answer = json.loads((await answered.next_msg(timeout=20)).data)
        await answered.unsubscribe()
        if not isinstance(payload, bytes) and answer["status"] == "stored":
            exported.conforms_on(f"{on}.{subject}", payload, sent)
        answers.append(answer)
        return answer

    def effect(answer: Any) -> str:
        return str(answer["records"][0]["effect"])

    ada = "ada-" + uuid.uuid4().hex[:6]
    entity_effects = [
        effect(await ask("entities.creator.upsert", entity(ada, 20))),
        effect(await ask("entities.creator.upsert", entity(ada, 30))),
        effect(await ask("entities.creator.upsert", entity(ada, 10))),
        effect(await ask("entities.creator.archive", {"id": ada, "updatedAt": 40, "actorId": "u"})),
        effect(await ask("entities.creator.delete", {"id": ada, "updatedAt": 50, "actorId": "u"})),
    ]
    assert entity_effects == ["created", "updated", "unchanged", "archived", "deleted"]
    login = {"id": "v-" + ada, "type": "user_login", "actorId": "u", "timestamp": 1,
             "metadata": {}}  # fmt: skip
    tag = {"entityId": ada, "key": "topic", "value": "ai"}
    other_effects = [
        effect(await ask("events.user_login", login)),
        effect(await ask("events.user_login", login)),
        effect(await ask("connections.owns.create", link("k-" + ada, "owns"))),
        effect(await ask("connections.owns.create", link("k-" + ada, "owns"))),
        effect(await ask("connections.owns.delete", {"id": "k-" + ada})),
        effect(await ask("tags.set", tag)),
        effect(await ask("tags.set", tag)),
        effect(await ask("tags.delete", tag)),
    ]
    assert other_effects == ["created", "duplicate", "created", "duplicate", "deleted",
                             "created", "updated", "deleted"]  # fmt: skip
    protocol = await ask(
        "protocols.a2a.SendMessage",
        load("a2a", "v1_send_message_new_task.json"),
        {"One-Actor-Id": "agent-client", "Nats-Msg-Id": "p-" + ada},
    )
    assert protocol["status"] == "stored"
    codes = [(await ask(subject, payload))["code"] for subject, payload, _ in REJECTED]
    assert codes == [reason for _, _, reason in REJECTED]

    assert {r["effect"] for a in answers if a["status"] == "stored" for r in a["records"]} == set(
        EFFECTS
    )
    for answer in answers:
        assert exported.errors("outcome", answer) == [], answer
        assert exported.errors(f"outcome.{answer['status']}", answer) == [], answer
        fits = exported.fits(exported.channel_messages("outcomes"), answer, None)
        assert fits == [f"outcome{answer['status'].capitalize()}"], answer

"""Every role against a real nats-server with the generated users, permissions and TLS.

For each role, what it is for works, and what it must not do is refused by the server:
a permissions violation sent to the client, and nothing delivered or stored.
"""

import asyncio
import json
import uuid

import nats
import pytest
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig

from contracts.connection_spec import ConnectionSpec
from services.runtime.secure_dev import SecureStack
from services.runtime.service import OneBusService
from services.security.roles import Role
from tests.fixtures.secure import Connection, TenantSpecs, add_tenant, connect, service_spec
from tests.fixtures.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("secure_bus")]


def entity(entity_id: str, name: str = "Ada") -> bytes:
    body = {"id": entity_id, "type": "creator", "name": name, "updatedAt": 1, "actorId": "u"}
    return json.dumps(body).encode()


def lookup(entity_id: str) -> bytes:
    return json.dumps({"id": entity_id}).encode()


async def opened(connections: list[Connection], spec: ConnectionSpec) -> Connection:
    connection = await connect(spec)
    connections.append(connection)
    return connection


async def refused_publish(connection: Connection, subject: str) -> str:
    await connection.client.publish(subject, b"{}")
    await connection.client.flush()
    return await connection.violation(f'"{subject}"')


async def refused_subscribe(connection: Connection, subject: str, queue: str = "") -> str:
    received: list[bytes] = []

    async def keep(message: Msg) -> None:
        received.append(message.data)

    await connection.client.subscribe(subject, queue=queue, cb=keep)
    await connection.client.flush()
    error = await connection.violation(f'"{subject}"')
    return error if not received else f"received {received!r}"


async def ask(connection: Connection, subject: str, body: bytes) -> dict[str, object]:
    reply = await connection.client.request(subject, body, timeout=5)
    answer: dict[str, object] = json.loads(reply.data)
    return answer


async def test_anonymous_wrong_password_and_plain_clients_are_refused(
    secure_stack: SecureStack, acme: TenantSpecs
) -> None:
    anonymous = ConnectionSpec(servers=acme.publisher.servers, tls_ca=acme.publisher.tls_ca)
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await connect(anonymous)
    wrong = acme.publisher.model_copy(update={"password": "not-the-password"})
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await connect(wrong)
    # Without the CA the server's certificate is not trusted: no plaintext, no guessing.
    untrusted = acme.publisher.model_copy(update={"tls_ca": None})
    with pytest.raises(Exception):  # noqa: B017, PT011 (ssl or nats error, by client version)
        await connect(untrusted)


async def test_a_publisher_publishes_and_queries_its_own_tenant_only(
    acme: TenantSpecs, beta: TenantSpecs, connections: list[Connection]
) -> None:
    publisher = await opened(connections, acme.publisher)
    js = publisher.client.jetstream()
    entity_id = f"c-{uuid.uuid4().hex[:8]}"
    ack = await js.publish("one.v1.acme.entities.creator.upsert", entity(entity_id))
    assert ack.stream == "ONE_INGEST_acme"  # the per-tenant layout
    for subject, body in [
        ("one.v1.acme.tags.set", {"entityId": entity_id, "key": "k", "value": "v"}),
        ("one.v1.acme.connections.owns.create",
         {"id": f"x-{entity_id}", "fromEntityId": entity_id, "toEntityId": "p1",
          "relationshipType": "owns"}),
        ("one.v1.acme.events.entity_created",
         {"id": f"e-{entity_id}", "type": "entity_created", "actorId": "u",
          "targetId": entity_id, "timestamp": 1}),
    ]:  # fmt: skip
        assert (await js.publish(subject, json.dumps(body).encode())).stream == "ONE_INGEST_acme"
    protocol = await js.publish(
        "one.v1.acme.protocols.a2a.Message",
        b'{"messageId": "m1", "role": "ROLE_USER", "parts": []}',
        headers={"Nats-Msg-Id": f"p-{entity_id}", "One-Actor-Id": "agent"},
    )
    assert protocol.stream == "ONE_INGEST_acme"

    async def get() -> dict[str, object]:
        return await ask(publisher, "one.v1.acme.query.entities.get", lookup(entity_id))

    answer = await eventually(get, lambda a: a.get("ok") is True)
    assert answer["ok"] is True, answer
    assert answer["data"]["groupId"] == "acme"  # type: ignore[index]

    forbidden = [
        "one.v1.beta.entities.creator.upsert",  # another tenant's input
        "one.v1.beta.query.entities.get",  # another tenant's queries
        "one.v1.acme.changes.entities.creator",  # forging its own changes
        "one.v1.acme.dlq.entities",
        f"{beta.publisher.inbox_prefix}.forged",  # forging another tenant's replies
        "$JS.API.STREAM.DELETE.ONE_INGEST",
        "$JS.API.STREAM.PURGE.ONE_INGEST",
        "$JS.API.STREAM.MSG.DELETE.ONE_INGEST",
        "$JS.API.STREAM.INFO.ONE_CHANGES",
        "$JS.API.CONSUMER.CREATE.ONE_CHANGES.c1.one.v1.acme.changes.>",
        "$SRV.PING",
    ]
    for subject in forbidden:
        assert await refused_publish(publisher, subject), subject
    for subject in [
        ">",
        "_INBOX.>",
        f"{beta.publisher.inbox_prefix}.>",
        f"{acme.subscriber.inbox_prefix}.>",
        "one.v1.acme.changes.>",
        "one.v1.beta.changes.>",
        "one.v1.*.query.>",
        "$JS.API.>",
    ]:
        assert await refused_subscribe(publisher, subject), subject


async def test_a_subscriber_follows_and_replays_its_own_changes_only(
    acme: TenantSpecs, beta: TenantSpecs, connections: list[Connection]
) -> None:
    subscriber = await opened(connections, acme.subscriber)
    live: list[str] = []
    events: list[str] = []

    async def on_change(message: Msg) -> None:
        live.append(message.subject)

    async def on_event(message: Msg) -> None:
        events.append(message.subject)

    await subscriber.client.subscribe("one.v1.acme.changes.>", cb=on_change)
    await subscriber.client.subscribe("one.v1.acme.events.>", cb=on_event)
    await subscriber.client.flush()

    acme_publisher = await opened(connections, acme.publisher)
    beta_publisher = await opened(connections, beta.publisher)
    entity_id = f"s-{uuid.uuid4().hex[:8]}"
    await acme_publisher.client.jetstream().publish(
        "one.v1.acme.entities.creator.upsert", entity(entity_id)
    )
    await beta_publisher.client.jetstream().publish(
        "one.v1.beta.entities.creator.upsert", entity(entity_id, "Beta")
    )
    await acme_publisher.client.jetstream().publish(
        "one.v1.acme.events.entity_created",
        json.dumps({"id": f"e-{entity_id}", "type": "entity_created", "actorId": "u",
                    "targetId": entity_id, "timestamp": 1}).encode(),
    )  # fmt: skip
    await eventually(lambda: asyncio.sleep(0, live), lambda got: len(got) >= 2)
    assert "one.v1.acme.changes.entities.creator" in live
    assert events == ["one.v1.acme.events.entity_created"]

    # Replay from the stream: an ordered consumer filtered to its own changes.
    replayed: list[dict[str, object]] = []

    async def on_replay(message: Msg) -> None:
        replayed.append(json.loads(message.data))

    await subscriber.client.jetstream().subscribe(
        "one.v1.acme.changes.>",
        stream="ONE_CHANGES",
        ordered_consumer=True,
        config=ConsumerConfig(name=f"replay-{uuid.uuid4().hex[:8]}"),
        cb=on_replay,
    )
    await eventually(
        lambda: asyncio.sleep(0, replayed),
        lambda got: any(c["record"].get("id") == entity_id for c in got),  # type: ignore[attr-defined]
    )
    assert {c["record"]["groupId"] for c in replayed} == {"acme"}  # type: ignore[index]
    assert not subscriber.errors

    # The API subject names the filter, and the server holds the body to it.
    mismatch = await subscriber.client.request(
        "$JS.API.CONSUMER.CREATE.ONE_CHANGES.sneak.one.v1.acme.changes.>",
        json.dumps({"stream_name": "ONE_CHANGES", "config": {
            "name": "sneak", "filter_subject": "one.v1.beta.changes.>", "ack_policy": "none",
            "deliver_subject": f"{acme.subscriber.inbox_prefix}.sneak"}}).encode(),
        timeout=5,
    )  # fmt: skip
    assert json.loads(mismatch.data)["error"]["err_code"] == 10131

    for subject in [
        "$JS.API.CONSUMER.CREATE.ONE_CHANGES.c2.one.v1.beta.changes.>",
        "$JS.API.CONSUMER.CREATE.ONE_DLQ.c2.one.v1.beta.dlq.>",
        "$JS.API.CONSUMER.CREATE.ONE_INGEST.c2.one.v1.acme.entities.>",
        "$JS.API.CONSUMER.CREATE.ONE_CHANGES",  # unfiltered, the pre-2.10 form
        "$JS.API.CONSUMER.DURABLE.CREATE.ONE_CHANGES.c3",
        "$JS.API.CONSUMER.DELETE.ONE_CHANGES.c1",
        "$JS.API.CONSUMER.MSG.NEXT.ONE_INGEST.one-bus-ingest",
        "$JS.API.STREAM.MSG.GET.ONE_CHANGES",
        "$JS.API.DIRECT.GET.ONE_CHANGES",
        "$JS.API.STREAM.DELETE.ONE_CHANGES",
        "one.v1.acme.entities.creator.upsert",
        "one.v1.acme.query.entities.get",
    ]:
        assert await refused_publish(subscriber, subject), subject
    for subject in [
        "one.v1.beta.changes.>",
        "one.v1.beta.events.>",
        "one.v1.*.changes.>",
        "_INBOX.>",
        f"{acme.publisher.inbox_prefix}.>",
        f"{beta.subscriber.inbox_prefix}.>",
        "one.v1.acme.query.>",
        "one.v1.acme.dlq.>",
    ]:
        assert await refused_subscribe(subscriber, subject), subject


async def test_no_one_but_the_query_service_can_answer_queries(
    secure_stack: SecureStack, acme: TenantSpecs, beta: TenantSpecs, connections: list[Connection]
) -> None:
    """The outsider's attack: a responder in the queue group answering another tenant."""
    rogues = [
        await opened(connections, acme.publisher),
        await opened(connections, acme.subscriber),
        await opened(connections, service_spec(secure_stack, Role.INGEST)),
        await opened(connections, service_spec(secure_stack, Role.OPERATOR)),
        # The identities that write (the watch bucket, changes) take no requests either.
        await opened(connections, service_spec(secure_stack, Role.QUERY)),
        await opened(connections, service_spec(secure_stack, Role.SERVICE)),
    ]
    for rogue in rogues:
        error = await refused_subscribe(rogue, "one.v1.beta.query.entities.get", "one-bus-query")
        assert error, rogue.client.connected_url

    requester = await opened(connections, beta.publisher)
    answers = [
        await ask(requester, "one.v1.beta.query.entities.get", lookup(f"n{n}")) for n in range(20)
    ]
    # All 20 from the service: a forged answer would not be its typed not_found.
    assert [a["error"]["code"] for a in answers] == ["not_found"] * 20  # type: ignore[index]


async def test_service_identities_can_do_only_their_part(
    secure_stack: SecureStack, connections: list[Connection]
) -> None:
    ingest = await opened(connections, service_spec(secure_stack, Role.INGEST))
    for subject in [
        "one.v1.acme.entities.creator.upsert",  # forging input
        "$JS.API.STREAM.DELETE.ONE_INGEST",
        "$JS.API.STREAM.PURGE.ONE_CHANGES",
        "$JS.API.CONSUMER.CREATE.ONE_CHANGES.c.one.v1.acme.changes.>",
    ]:
        assert await refused_publish(ingest, subject), subject
    for subject in ["one.v1.*.query.>", "one.v1.>", "_INBOX.>", "$SRV.>"]:
        assert await refused_subscribe(ingest, subject), subject

    query = await opened(connections, service_spec(secure_stack, Role.QUERY))
    for subject in [
        "one.v1.acme.changes.entities.creator",
        "one.v1.acme.entities.creator.upsert",
        "$JS.API.STREAM.INFO.ONE_DLQ",
        "$JS.API.STREAM.MSG.GET.ONE_INGEST",
        "$JS.API.CONSUMER.MSG.NEXT.ONE_INGEST.one-bus-ingest_acme",
    ]:
        assert await refused_publish(query, subject), subject
    for subject in ["one.v1.*.changes.>", "one.v1.*.entities.>", "_INBOX.>"]:
        assert await refused_subscribe(query, subject), subject

    operator = await opened(connections, service_spec(secure_stack, Role.OPERATOR))
    info = await operator.client.jetstream().stream_info("ONE_DLQ")
    assert info.config.name == "ONE_DLQ"
    for subject in ["one.v1.*.changes.>", "one.v1.*.query.>", "_INBOX.>"]:
        assert await refused_subscribe(operator, subject), subject
    for subject in ["one.v1.acme.changes.entities.creator", "one.v1.acme.query.entities.get"]:
        assert await refused_publish(operator, subject), subject


async def test_the_service_runs_as_its_own_identity(secure_bus: OneBusService) -> None:
    spec_file = secure_bus.settings.nats_credentials_file
    assert spec_file is not None
    spec = ConnectionSpec.model_validate_json(spec_file.read_text())
    assert spec.user == "svc-service"
    assert spec.tls_ca is not None


async def test_a_reply_subject_cannot_aim_the_service_at_another_tenant(
    acme: TenantSpecs, beta: TenantSpecs, connections: list[Connection]
) -> None:
    """The server lets a responder answer on any reply subject the asker names: the
    service answers only to the asker's own inboxes (services/security/reply_guard.py)."""
    watcher = await opened(connections, beta.subscriber)
    seen: list[str] = []

    async def keep(message: Msg) -> None:
        seen.append(message.subject)

    await watcher.client.subscribe("one.v1.beta.changes.>", cb=keep)
    await watcher.client.subscribe(f"{beta.subscriber.inbox_prefix}.>", cb=keep)
    await watcher.client.flush()
    asker = await opened(connections, acme.publisher)
    for reply in [
        "one.v1.beta.changes.entities.creator",
        f"{beta.subscriber.inbox_prefix}.trap",
    ]:
        for name in ["entities.get", "no.such.query"]:  # an endpoint, and the unknown-name answer
            await asker.client.publish(f"one.v1.acme.query.{name}", lookup("x"), reply=reply)
    await asker.client.flush()
    # The asker's own inbox still gets its answer, after the ones that were dropped.
    answer = await ask(asker, "one.v1.acme.query.entities.get", lookup("x"))
    assert answer["ok"] is False
    await watcher.client.flush()
    await asyncio.sleep(0.5)  # an answer would have come with the one above
    assert seen == []


async def test_deliveries_aimed_at_another_tenant_store_nothing_there(
    secure_stack: SecureStack, acme: TenantSpecs, connections: list[Connection]
) -> None:
    """What a single account cannot refuse (docs/security.md, known limits): a subscriber
    choosing a consumer's deliver subject makes JetStream deliver its own changes onto a
    subject it may not publish to. Onto its own stream's subjects the server refuses (a
    cycle); onto another tenant's events, that tenant's listeners on that exact subject
    receive them (labelled with the sender's groupId), and nothing is stored there."""
    victim = await add_tenant(secure_stack, f"v{uuid.uuid4().hex[:8]}")
    operator = await opened(connections, service_spec(secure_stack, Role.OPERATOR))
    js = operator.client.jetstream()

    async def count(stream: str, tenant: str) -> int:
        info = await js.stream_info(stream, subjects_filter=f"one.v1.{tenant}.>")
        return sum((info.state.subjects or {}).values())

    publisher = await opened(connections, acme.publisher)
    await publisher.client.jetstream().publish(
        "one.v1.acme.entities.creator.upsert", entity(f"r-{uuid.uuid4().hex[:8]}")
    )
    assert await eventually(lambda: count("ONE_CHANGES", "acme"), bool)

    listener = await opened(connections, victim.subscriber)
    heard: list[bytes] = []

    async def hear(message: Msg) -> None:
        heard.append(message.data)

    await listener.client.subscribe(f"one.v1.{victim.tenant}.events.entity_created", cb=hear)
    await listener.client.flush()
    subscriber = await opened(connections, acme.subscriber)

    async def aim(deliver_subject: str) -> dict[str, object]:
        name = f"a{uuid.uuid4().hex[:8]}"
        reply = await subscriber.client.request(
            f"$JS.API.CONSUMER.CREATE.ONE_CHANGES.{name}.one.v1.acme.changes.>",
            json.dumps({"stream_name": "ONE_CHANGES", "config": {
                "name": name, "filter_subject": "one.v1.acme.changes.>",
                "ack_policy": "none", "deliver_subject": deliver_subject}}).encode(),
            timeout=5,
        )  # fmt: skip
        answer: dict[str, object] = json.loads(reply.data)
        return answer

    cycle = await aim(f"one.v1.{victim.tenant}.changes.x.y")
    assert cycle["error"]["err_code"] == 10081  # type: ignore[index]
    answer = await aim(f"one.v1.{victim.tenant}.events.entity_created")
    assert "error" not in answer
    assert await eventually(lambda: asyncio.sleep(0, heard), bool)
    # Labelled as the sender's: every record carries groupId "acme".
    assert {json.loads(data)["record"]["groupId"] for data in heard} == {"acme"}
    # The victim's own ingest stream captures them, under their original subject (the
    # sender's changes): ingest takes them all the same and dead-letters them as the
    # sender's, so they do not stay to fill the victim's backlog quota.
    victim_stream = f"ONE_INGEST_{victim.tenant}"
    drained = await eventually(
        lambda: js.stream_info(victim_stream), lambda i: i.state.messages == 0
    )
    assert drained.state.messages == 0
    assert await count("ONE_DLQ", victim.tenant) == 0
    asker = await opened(connections, victim.publisher)
    for query in ["entities.list", "events.list"]:
        listed = await ask(asker, f"one.v1.{victim.tenant}.query.{query}", b"{}")
        assert listed["data"]["items"] == [], query  # type: ignore[index]

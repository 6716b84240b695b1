"""A hostile tenant names reply subjects (and `deliverTo`s) aimed elsewhere, on the secure
layout: for every responder and every target, nothing lands there, and each refusal is
counted (`one_bus_replies_refused_total`).

Ordering, not timing, makes "nothing lands" hold: each responder applies the guard as a
request arrives, before it starts any work, and the requests of one connection arrive in
order. So once the refusal counter has counted every hostile request and the asker's own
request that followed has been answered, no answer to a hostile one can still be coming;
what the observers (the victim's subscriptions, the operator's view of every stream and
of the watch bucket) saw by then is all they will ever see from them."""

import json
import uuid
from dataclasses import dataclass, field

import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from services.runtime.secure_dev import SecureStack
from services.runtime.service import OneBusService
from services.security.roles import Role, inbox_prefix
from tests.fixtures.secure import Connection, TenantSpecs, connect, service_spec
from tests.fixtures.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("secure_bus")]

BUCKET = "ONE_WATCHES"


def refused(bus: OneBusService, responder: str) -> float:
    total = 0.0
    for metric in bus.metrics_registry.collect():
        if metric.name != "one_bus_replies_refused":
            continue
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels["responder"] == responder:
                total += sample.value
    return total


@dataclass
class Observers:
    """What the victim tenant and the operator can see: every message on the victim's
    subjects and inboxes and on the operator's inbox, and every stream's contents."""

    js: JetStreamContext
    victim: str
    seen: list[str] = field(default_factory=list)

    async def keep(self, message: Msg) -> None:
        self.seen.append(message.subject)

    async def stored(self) -> dict[str, int]:
        """Messages per stream on the victim's subjects, and in the watch bucket."""
        counts: dict[str, int] = {}
        for info in await self.js.streams_info():
            name = info.config.name or ""
            pattern = f"$KV.{BUCKET}.>" if name == f"KV_{BUCKET}" else f"one.v1.{self.victim}.>"
            detail = await self.js.stream_info(name, subjects_filter=pattern)
            counts[name] = sum((detail.state.subjects or {}).values())
        counts.pop(f"KV_{BUCKET}", None)  # compared key by key instead (heartbeats move)
        return counts

    async def keys(self, prefix: str) -> dict[str, int]:
        """The bucket's keys under `prefix` → their last revision."""
        detail = await self.js.stream_info(f"KV_{BUCKET}", subjects_filter=f"$KV.{BUCKET}.>")
        subjects = detail.state.subjects or {}
        return {subject: n for subject, n in subjects.items() if subject.startswith(prefix)}


@pytest.fixture
async def observers(
    secure_stack: SecureStack, beta: TenantSpecs, connections: list[Connection]
) -> Observers:
    operator = await connect(service_spec(secure_stack, Role.OPERATOR))
    watching_operator = await connect(service_spec(secure_stack, Role.OPERATOR))
    subscriber = await connect(beta.subscriber)
    publisher = await connect(beta.publisher)
    connections.extend([operator, watching_operator, subscriber, publisher])
    seen = Observers(operator.client.jetstream(), beta.tenant)
    for connection, subject in [
        (subscriber, f"one.v1.{beta.tenant}.changes.>"),
        (subscriber, f"one.v1.{beta.tenant}.events.>"),
        # The traps in the inboxes (the rest of them carries the victims' own replies).
        (subscriber, f"{beta.subscriber.inbox_prefix}.trap.>"),
        (publisher, f"{beta.publisher.inbox_prefix}.trap.>"),
        (watching_operator, f"{inbox_prefix(Role.OPERATOR)}.trap.>"),
        (watching_operator, "one.v1.*.dlq.>"),
    ]:
        await connection.client.subscribe(subject, cb=seen.keep)
        await connection.client.flush()
    return seen


def hostile_targets(victim: TenantSpecs, watch_id: str, probe: str) -> list[str]:
    tenant = victim.tenant
    return [
        f"one.v1.{tenant}.changes.entities.creator",
        f"one.v1.{tenant}.entities.creator.upsert",
        f"one.v1.{tenant}.events.payment_event",
        f"one.v1.{tenant}.dlq.entities.creator",
        f"{victim.publisher.inbox_prefix}.trap.1",
        f"{victim.subscriber.inbox_prefix}.trap.1",
        f"_INBOX_TENANTX.{tenant}.pub.w1",
        f"{inbox_prefix(Role.OPERATOR)}.trap.1",
        f"{inbox_prefix(Role.INGEST)}.trap.1",
        f"$KV.{BUCKET}.w.{watch_id}",
        f"$KV.{BUCKET}.w.{probe}",
        "$JS.API.STREAM.PURGE.ONE_CHANGES",
        "$JS.API.STREAM.DELETE.ONE_DLQ",
        "_INBOX.x",
        "_INBOX.x.1",
    ]


async def victim_watch(beta: TenantSpecs, connections: list[Connection]) -> str:
    """A live query of the victim's own, whose record a hostile reply could overwrite."""
    publisher = await connect(beta.publisher)
    connections.append(publisher)
    deliver_to = publisher.client.new_inbox()
    reply = await publisher.client.request(
        f"one.v1.{beta.tenant}.watch.events.list",
        json.dumps({"actorId": "nobody", "deliverTo": deliver_to}).encode(),
        timeout=10,
    )
    answer = json.loads(reply.data)
    assert answer["ok"] is True, answer
    watch_id: str = answer["data"]["watchId"]
    return watch_id


async def test_no_responder_answers_a_tenant_anywhere_but_its_own_inbox(
    secure_bus: OneBusService,
    acme: TenantSpecs,
    beta: TenantSpecs,
    observers: Observers,
    connections: list[Connection],
) -> None:
    watch_id = await victim_watch(beta, connections)
    probe = f"hostile-{uuid.uuid4().hex}"
    record_before = await observers.keys(f"$KV.{BUCKET}.w.{watch_id}")
    stored_before = await observers.stored()
    asker = await connect(acme.publisher)
    connections.append(asker)
    own_inbox = asker.client.new_inbox()
    requests = {
        "query": [
            ("query.entities.get", {"id": "x"}),
            ("query.no.such.query", {}),  # the unknown-name answer
        ],
        "watch": [
            ("watch.events.list", {"actorId": "u", "deliverTo": own_inbox}),
            ("watch.renew", {"watchId": watch_id}),
            ("watch.stop", {"watchId": watch_id}),
        ],
    }
    targets = hostile_targets(beta, watch_id, probe)
    before = {responder: refused(secure_bus, responder) for responder in requests}
    for pairs in requests.values():
        for name, body in pairs:
            for target in targets:
                await asker.client.publish(
                    f"one.v1.acme.{name}", json.dumps(body).encode(), reply=target
                )
    # The asker's own requests, after the hostile ones, are answered.
    for name in ("query.entities.get", "watch.renew"):
        reply = await asker.client.request(f"one.v1.acme.{name}", b'{"id": "x"}', timeout=10)
        assert "ok" in json.loads(reply.data)
    for responder, pairs in requests.items():
        assert refused(secure_bus, responder) - before[responder] == len(pairs) * len(targets)
    assert observers.seen == []
    assert await observers.stored() == stored_before
    assert await observers.keys(f"$KV.{BUCKET}.w.{probe}") == {}
    assert await observers.keys(f"$KV.{BUCKET}.w.{watch_id}") == record_before


async def test_discovery_answers_only_the_operator(
    secure_bus: OneBusService,
    secure_stack: SecureStack,
    beta: TenantSpecs,
    observers: Observers,
    connections: list[Connection],
) -> None:
    """`$SRV` carries no tenant, and only the operator may ask it: its answers go to the
    operator's inbox and nowhere else."""
    asker = await connect(service_spec(secure_stack, Role.OPERATOR))
    connections.append(asker)
    probe = f"hostile-{uuid.uuid4().hex}"
    targets = [
        t for t in hostile_targets(beta, "none", probe) if not t.startswith("_INBOX_SERVICE.op")
    ]
    stored_before = await observers.stored()
    before = refused(secure_bus, "discovery")
    for target in targets:
        await asker.client.publish("$SRV.PING", b"", reply=target)
    answer = json.loads((await asker.client.request("$SRV.PING.one-bus-query", b"")).data)
    assert answer["name"] == "one-bus-query"
    assert refused(secure_bus, "discovery") - before == len(targets)
    assert observers.seen == []
    assert await observers.stored() == stored_before
    assert await observers.keys(f"$KV.{BUCKET}.w.{probe}") == {}


async def test_a_watch_pushes_only_to_its_tenants_own_inbox(
    secure_bus: OneBusService,
    acme: TenantSpecs,
    beta: TenantSpecs,
    observers: Observers,
    connections: list[Connection],
) -> None:
    asker = await connect(acme.publisher)
    connections.append(asker)
    probe = f"hostile-{uuid.uuid4().hex}"
    targets = hostile_targets(beta, "none", probe)
    before = refused(secure_bus, "watch_deliver_to")
    for target in targets:
        reply = await asker.client.request(
            "one.v1.acme.watch.events.list",
            json.dumps({"actorId": "u", "deliverTo": target}).encode(),
            timeout=10,
        )
        answer = json.loads(reply.data)
        assert answer["error"]["code"] == "invalid_request", (target, answer)
    assert refused(secure_bus, "watch_deliver_to") - before == len(targets)
    assert observers.seen == []


async def test_the_answering_identity_itself_may_publish_only_to_inboxes(
    secure_stack: SecureStack,
    acme: TenantSpecs,
    beta: TenantSpecs,
    observers: Observers,
    connections: list[Connection],
) -> None:
    """Defence in depth: were the guard gone, nats-server itself would refuse an answer
    aimed elsewhere. The responder identity has no `allow_responses` (with it, the server
    lets a user publish on the reply subject of any request it received, whatever its
    allow and deny lists say), and the identity that writes the watch bucket and ingest's
    subjects receives no requests."""
    responder = await connect(service_spec(secure_stack, Role.RESPONDER))
    asker = await connect(acme.publisher)
    connections.extend([responder, asker])
    probe = f"transport-{uuid.uuid4().hex}"
    received: list[Msg] = []

    async def keep(message: Msg) -> None:
        received.append(message)

    await responder.client.subscribe(f"one.v1.acme.query.{probe}", cb=keep)
    await responder.client.flush()
    stored_before = await observers.stored()
    targets = [
        t
        for t in hostile_targets(beta, "none", probe)
        if not t.startswith(("_INBOX_TENANT.", "_INBOX_SERVICE.operator."))
    ]
    for target in targets:
        await asker.client.publish(f"one.v1.acme.query.{probe}", b"{}", reply=target)
    await asker.client.flush()

    async def arrived() -> int:
        return len(received)

    assert await eventually(arrived, lambda n: n == len(targets)) == len(targets)
    for message in received:
        await responder.client.publish(message.reply, b"FORGED")
    await responder.client.flush()
    for target in targets:
        assert await responder.violation(f'"{target}"'), target
    assert observers.seen == []
    assert await observers.stored() == stored_before
    assert await observers.keys(f"$KV.{BUCKET}.w.{probe}") == {}

    # And the service's own identity, which writes, may not take requests at all.
    service = await connect(service_spec(secure_stack, Role.SERVICE))
    connections.append(service)
    for subject in ("one.v1.*.query.>", "one.v1.*.watch.>", "$SRV.>"):
        await service.client.subscribe(subject)
        await service.client.flush()
        assert await service.violation(f'"{subject}"'), subject

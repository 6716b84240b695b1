"""The seed's roles against a real nats-server with the generated users, permissions and
TLS: org_owner, org_user and customer as `tenant add` issues them, and the operator as the
platform owner. For each, what it is for works, and what it must not do is refused by the
server (a permissions violation sent to the client, nothing delivered or stored)."""

import json
import uuid
from typing import TypeVar

import pytest
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig

from contracts.connection_spec import ConnectionSpec
from contracts.dead_letters import HEADER_SUBJECT
from contracts.subjects import TENANTS_BUCKET
from contracts.tenancy import TenantQuotas
from services.runtime.secure_dev import SecureStack, declare_missing_tenant_streams
from services.runtime.tenant_directory import put_quotas, read_quotas, tenants_bucket
from services.security.applied import users_applied
from services.security.roles import TENANT_ROLES, Role
from tests.fixtures.secure import Connection, TenantSpecs, service_spec
from tests.fixtures.waiting import eventually
from tests.services.security.test_permissions import (
    ask,
    entity,
    lookup,
    opened,
    refused_publish,
    refused_subscribe,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("secure_bus")]

Specs = dict[Role, ConnectionSpec]
T = TypeVar("T")


async def issued(stack: SecureStack, tenant: str, *roles: Role) -> Specs:
    """What `one-bus tenant add --role …` does: the identities, and the tenant's stream."""
    answer = stack.layout.add_tenant(tenant, roles or TENANT_ROLES)
    assert await users_applied(stack.layout)
    await declare_missing_tenant_streams(stack.layout, stack.settings)
    return {
        Role(key): ConnectionSpec.model_validate(answer[key]) for key in answer if key != "tenant"
    }


@pytest.fixture(scope="module")
async def delta(secure_stack: SecureStack) -> Specs:
    return await issued(secure_stack, f"d{uuid.uuid4().hex[:6]}")


def tenant_of(specs: Specs) -> str:
    tenant = specs[Role.ORG_USER].tenant
    assert tenant is not None
    return tenant


async def test_tenant_add_issues_every_tenant_role_with_its_tenant_and_role(
    delta: Specs, secure_stack: SecureStack
) -> None:
    assert list(delta) == list(TENANT_ROLES)
    tenant = tenant_of(delta)
    for role, spec in delta.items():
        assert (spec.tenant, spec.role) == (tenant, role.value)
        assert spec.inbox_prefix is not None
        assert spec.inbox_prefix.startswith(f"_INBOX_TENANT.{tenant}.")
    assert len({spec.inbox_prefix for spec in delta.values()}) == len(delta)
    only = await issued(secure_stack, f"o{uuid.uuid4().hex[:6]}", Role.CUSTOMER)
    assert list(only) == [Role.CUSTOMER]


async def test_an_org_user_publishes_queries_and_follows_its_own_tenant_only(
    delta: Specs, beta: TenantSpecs, connections: list[Connection]
) -> None:
    tenant = tenant_of(delta)
    user = await opened(connections, delta[Role.ORG_USER])
    heard: list[str] = []

    async def hear(message: Msg) -> None:
        heard.append(message.subject)

    await user.client.subscribe(f"one.v1.{tenant}.changes.>", cb=hear)
    await user.client.flush()
    entity_id = f"u-{uuid.uuid4().hex[:8]}"
    ack = await user.client.jetstream().publish(
        f"one.v1.{tenant}.entities.creator.upsert", entity(entity_id)
    )
    assert ack.stream == f"ONE_INGEST_{tenant}"

    async def get() -> dict[str, object]:
        return await ask(user, f"one.v1.{tenant}.query.entities.get", lookup(entity_id))

    answer = await eventually(get, lambda a: a.get("ok") is True)
    assert answer["ok"] is True, answer
    await eventually(lambda: _copy(heard), bool)
    assert f"one.v1.{tenant}.changes.entities.creator" in heard
    # Its own changes and dead letters through filtered consumers.
    for stream, subjects in (("ONE_CHANGES", "changes"), ("ONE_DLQ", "dlq")):
        created = await _create_consumer(user, stream, f"one.v1.{tenant}.{subjects}.>", delta)
        assert "error" not in created, created

    for subject in [
        "one.v1.beta.entities.creator.upsert",
        "one.v1.beta.query.entities.get",
        f"one.v1.{tenant}.changes.entities.creator",
        f"one.v1.{tenant}.dlq.entities",
        "$JS.API.STREAM.MSG.DELETE.ONE_DLQ",
        "$JS.API.STREAM.INFO.ONE_DLQ",
        f"$JS.API.CONSUMER.INFO.ONE_INGEST.one-bus-ingest_{tenant}",
        f"$KV.{TENANTS_BUCKET}.{tenant}",
        f"{beta.publisher.inbox_prefix}.forged",
    ]:
        assert await refused_publish(user, subject), subject
    for subject in [
        "one.v1.beta.changes.>",
        f"{delta[Role.ORG_OWNER].inbox_prefix}.>",
        f"one.v1.{tenant}.query.>",
        f"one.v1.{tenant}.dlq.>",
        "_INBOX.>",
    ]:
        assert await refused_subscribe(user, subject), subject


async def test_a_customer_may_only_query_and_watch(
    delta: Specs, connections: list[Connection]
) -> None:
    tenant = tenant_of(delta)
    customer = await opened(connections, delta[Role.CUSTOMER])
    answer = await ask(customer, f"one.v1.{tenant}.query.entities.get", lookup("nobody"))
    assert answer["error"]["code"] == "not_found"  # type: ignore[index]
    inbox = f"{delta[Role.CUSTOMER].inbox_prefix}.watch1"
    await customer.client.subscribe(inbox)
    watched = await ask(
        customer,
        f"one.v1.{tenant}.watch.entities.list",
        json.dumps({"deliverTo": inbox}).encode(),
    )
    assert watched["ok"] is True, watched
    stopped = await ask(
        customer,
        f"one.v1.{tenant}.watch.stop",
        json.dumps({"watchId": watched["data"]["watchId"]}).encode(),  # type: ignore[index]
    )
    assert stopped["ok"] is True, stopped

    for subject in [
        f"one.v1.{tenant}.entities.creator.upsert",
        f"one.v1.{tenant}.connections.owns.create",
        f"one.v1.{tenant}.tags.set",
        f"one.v1.{tenant}.events.entity_created",
        f"one.v1.{tenant}.protocols.a2a.Message",
        f"$JS.API.CONSUMER.CREATE.ONE_CHANGES.c1.one.v1.{tenant}.changes.>",
        f"$JS.API.CONSUMER.CREATE.ONE_DLQ.c1.one.v1.{tenant}.dlq.>",
        "$JS.API.STREAM.INFO.ONE_INGEST",
    ]:
        assert await refused_publish(customer, subject), subject
    for subject in [
        f"one.v1.{tenant}.changes.>",
        f"one.v1.{tenant}.events.>",
        f"one.v1.{tenant}.dlq.>",
        f"{delta[Role.ORG_USER].inbox_prefix}.>",
    ]:
        assert await refused_subscribe(customer, subject), subject


async def test_an_org_owner_reads_its_backlog_and_replays_its_dead_letters_only(
    delta: Specs, beta: TenantSpecs, connections: list[Connection]
) -> None:
    tenant = tenant_of(delta)
    owner = await opened(connections, delta[Role.ORG_OWNER])
    # Its own stream and lane (the secure layout's: the tenant's stream, its durable
    # `one-bus-ingest`): the server lets the requests through, the JetStream API answers.
    for subject in [
        f"$JS.API.STREAM.INFO.ONE_INGEST_{tenant}",
        f"$JS.API.CONSUMER.INFO.ONE_INGEST_{tenant}.one-bus-ingest",
    ]:
        reply = await owner.client.request(subject, b"", timeout=5)
        assert json.loads(reply.data)["type"].startswith("io.nats.jetstream.api.v1."), subject
    assert not owner.errors
    # A dead letter of its own: published bad input, read back through its filtered
    # consumer, replayed fixed to its own ingest subject.
    bad_id = f"bad-{uuid.uuid4().hex[:8]}"
    js = owner.client.jetstream()
    await js.publish(f"one.v1.{tenant}.entities.creator.upsert", b'{"id": "' + bad_id.encode())
    letters: list[Msg] = []

    async def keep(message: Msg) -> None:
        letters.append(message)

    await js.subscribe(
        f"one.v1.{tenant}.dlq.>",
        stream="ONE_DLQ",
        ordered_consumer=True,
        config=ConsumerConfig(name=f"dlq-{uuid.uuid4().hex[:8]}"),
        cb=keep,
    )
    await eventually(lambda: _copy(letters), bool)
    assert letters
    assert letters[0].subject.startswith(f"one.v1.{tenant}.dlq.")
    original = (letters[0].headers or {})[HEADER_SUBJECT]
    assert original == f"one.v1.{tenant}.entities.creator.upsert"
    replayed = await js.publish(original, entity(bad_id))
    assert replayed.stream == f"ONE_INGEST_{tenant}"

    for subject in [
        f"$JS.API.CONSUMER.INFO.ONE_INGEST_{beta.tenant}.one-bus-ingest",
        f"$JS.API.STREAM.INFO.ONE_INGEST_{beta.tenant}",
        "$JS.API.STREAM.INFO.ONE_INGEST",
        f"$JS.API.CONSUMER.CREATE.ONE_DLQ.c1.one.v1.{beta.tenant}.dlq.>",
        # Deleting a dead letter names a sequence in the body, which the server cannot
        # tie to a tenant: that stays with the platform owner.
        "$JS.API.STREAM.MSG.DELETE.ONE_DLQ",
        "$JS.API.STREAM.PURGE.ONE_DLQ",
        "$JS.API.STREAM.MSG.GET.ONE_DLQ",
        f"$KV.{TENANTS_BUCKET}.{tenant}",
        "$KV.ONE_WATCHES.w.x",
        f"one.v1.{beta.tenant}.entities.creator.upsert",
    ]:
        assert await refused_publish(owner, subject), subject
    for subject in ["one.v1.beta.changes.>", "one.v1.*.dlq.>", f"{beta.publisher.inbox_prefix}.>"]:
        assert await refused_subscribe(owner, subject), subject


async def test_the_platform_owner_is_the_operator_across_tenants(
    secure_stack: SecureStack, delta: Specs, connections: list[Connection]
) -> None:
    tenant = tenant_of(delta)
    operator = await opened(connections, service_spec(secure_stack, Role.OPERATOR))
    js = operator.client.jetstream()
    bucket = await tenants_bucket(js)
    await put_quotas(bucket, tenant, TenantQuotas(max_watches=3))
    assert await read_quotas(bucket, tenant) == TenantQuotas(max_watches=3)
    info = await js.stream_info(f"ONE_INGEST_{tenant}")
    assert info.config.name == f"ONE_INGEST_{tenant}"
    # A watch's last push goes to the watching tenant's inbox.
    watcher = await opened(connections, delta[Role.CUSTOMER])
    pushed: list[bytes] = []

    async def hear(message: Msg) -> None:
        pushed.append(message.data)

    inbox = f"{delta[Role.CUSTOMER].inbox_prefix}.w"
    await watcher.client.subscribe(inbox, cb=hear)
    await watcher.client.flush()
    await operator.client.publish(inbox, b'{"ended": true}')
    await operator.client.flush()
    assert await eventually(lambda: _copy(pushed), bool) == [b'{"ended": true}']
    for subject in [f"one.v1.{tenant}.changes.x.y", f"one.v1.{tenant}.query.entities.get"]:
        assert await refused_publish(operator, subject), subject


async def _copy(items: list[T]) -> list[T]:
    return list(items)


async def _create_consumer(
    connection: Connection, stream: str, subjects: str, specs: Specs
) -> dict[str, object]:
    name = f"c{uuid.uuid4().hex[:8]}"
    reply = await connection.client.request(
        f"$JS.API.CONSUMER.CREATE.{stream}.{name}.{subjects}",
        json.dumps({"stream_name": stream, "config": {
            "name": name, "filter_subject": subjects, "ack_policy": "none",
            "deliver_subject": f"{specs[Role.ORG_USER].inbox_prefix}.{name}",
            "inactive_threshold": 5_000_000_000}}).encode(),
        timeout=5,
    )  # fmt: skip
    answer: dict[str, object] = json.loads(reply.data)
    return answer

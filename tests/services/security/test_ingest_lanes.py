"""The ingest identity's lanes on a real nats-server: what fair ingest needs works, the
rest of the consumer API is refused; the secure deployments run the per-tenant layout."""

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from services.ingest.lanes import lane_consumer
from services.runtime.secure_dev import SecureStack, secure_servers
from services.runtime.service import OneBusService
from services.security.roles import Role
from tests.deploy.manifests import KUSTOMIZATIONS, compose, one, rendered
from tests.fixtures.secure import Connection, TenantSpecs, add_tenant, connect, service_spec
from tests.fixtures.waiting import eventually


async def opened(connections: list[Connection], spec: Any) -> Connection:
    connection = await connect(spec)
    connections.append(connection)
    return connection


async def api(connection: Connection, subject: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = await connection.client.request(subject, json.dumps(body).encode(), timeout=5)
    answer: dict[str, Any] = json.loads(reply.data)
    return answer


async def refused(connection: Connection, subject: str) -> str:
    await connection.client.publish(subject, b"{}")
    await connection.client.flush()
    return await connection.violation(f'"{subject}"')


@pytest.mark.integration
async def test_ingest_may_find_and_run_lanes_and_touch_no_other_consumer(
    secure_stack: SecureStack,
    secure_bus: OneBusService,
    acme: TenantSpecs,
    connections: list[Connection],
) -> None:
    ingest = await opened(connections, service_spec(secure_stack, Role.INGEST))
    names = await api(ingest, "$JS.API.STREAM.NAMES", {})
    assert "ONE_INGEST_acme" in names["streams"]
    stream, durable = lane_consumer(secure_stack.settings, "acme")
    lane = await eventually(
        lambda: api(ingest, f"$JS.API.CONSUMER.INFO.{stream}.{durable}", {}),
        lambda answer: "error" not in answer,
    )
    assert lane["config"]["durable_name"] == durable
    for subject in [
        f"$JS.API.CONSUMER.CREATE.{stream}.sneak.one.v1.>",  # another consumer name
        f"$JS.API.CONSUMER.CREATE.{stream}.{durable}",  # without the filter in the subject
        f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.two.v1.>",
        f"$JS.API.CONSUMER.DELETE.{stream}.{durable}",
        "$JS.API.CONSUMER.DELETE.ONE_INGEST.one-bus-ingest_acme",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.sneak",
        f"$JS.API.STREAM.PURGE.{stream}",
        f"$JS.API.STREAM.DELETE.{stream}",
        "$JS.API.STREAM.CREATE.ONE_INGEST_newcomer",  # tenants' streams: `tenant add`'s
        "$JS.API.STREAM.LIST",
        "$JS.API.STREAM.MSG.GET.ONE_INGEST_acme",
    ]:
        assert await refused(ingest, subject), subject


@pytest.mark.integration
async def test_a_tenant_added_while_ingest_runs_gets_its_lane_and_its_input_stored(
    secure_stack: SecureStack, secure_bus: OneBusService, connections: list[Connection]
) -> None:
    tenant = f"n{uuid.uuid4().hex[:8]}"
    added = await add_tenant(secure_stack, tenant)
    publisher = await opened(connections, added.publisher)
    body = {"id": "c1", "type": "creator", "name": "Ada", "updatedAt": 1, "actorId": "u"}
    ack = await publisher.client.jetstream().publish(
        f"one.v1.{tenant}.entities.creator.upsert", json.dumps(body).encode()
    )
    assert ack.stream == lane_consumer(secure_stack.settings, tenant)[0]

    async def get() -> dict[str, Any]:
        reply = await publisher.client.request(
            f"one.v1.{tenant}.query.entities.get", b'{"id":"c1"}', timeout=5
        )
        answer: dict[str, Any] = json.loads(reply.data)
        return answer

    answer = await eventually(get, lambda a: a.get("ok") is True, timeout_s=30)
    assert answer["data"]["name"] == "Ada"


def test_the_secure_deployments_run_the_per_tenant_layout(secure_stack: SecureStack) -> None:
    assert secure_stack.settings.ingest_layout == "per_tenant"
    for part in ("ingest", "query"):
        assert compose()["services"][part]["environment"]["ONE_INGEST_LAYOUT"] == "per_tenant"
    for name in KUSTOMIZATIONS:
        config = one(rendered(name), "ConfigMap", "one-bus")["data"]
        assert config["ONE_INGEST_LAYOUT"] == "per_tenant", name


@pytest.mark.integration
async def test_dev_secure_declares_the_streams_of_the_tenants_it_already_knows(
    tmp_path: Path,
) -> None:
    """A data dir from before the per-tenant layout: its tenants have identities and no
    stream; the next start gives each one, with its quotas (defaults here)."""
    async with secure_servers(tmp_path) as stack:
        stack.layout.add_tenant("old")  # identities only, as earlier versions did
    async with secure_servers(tmp_path) as stack:
        operator = await connect(service_spec(stack, Role.OPERATOR))
        try:
            info = await operator.client.jetstream().stream_info("ONE_INGEST_old")
        finally:
            await operator.client.close()
    assert info.config.max_msgs == stack.settings.tenant_max_backlog_msgs

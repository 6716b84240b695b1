"""The service declares its streams idempotently and never fights operators' configuration."""

from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, StreamConfig
from nats.js.errors import APIError

from contracts.subjects import INGEST_KINDS
from contracts.tenancy import TenantQuotas
from services.runtime.embedded import EmbeddedServers
from services.runtime.streams import (
    LayoutMismatchError,
    declare_streams,
    declare_tenant_stream,
    delete_tenant_stream,
)
from services.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def js(tmp_path: Path) -> AsyncIterator[JetStreamContext]:
    """A NATS server of its own: the session's service already owns the real subjects."""
    async with EmbeddedServers(tmp_path) as servers:
        client = await nats.connect(servers.nats_url)
        yield client.jetstream()
        await client.close()


async def test_declaring_twice_is_harmless_and_applies_the_limits(js: JetStreamContext) -> None:
    settings = Settings(duplicate_window_s=30, ingest_max_age_s=3600)
    await declare_streams(js, settings)
    await declare_streams(js, settings)
    names = {info.config.name for info in await js.streams_info()}
    assert names == {"ONE_INGEST", "ONE_CHANGES", "ONE_DLQ"}
    ingest = (await js.stream_info("ONE_INGEST")).config
    assert (ingest.max_age, ingest.duplicate_window) == (3600, 30)
    assert "one.v1.*.entities.>" in (ingest.subjects or [])


async def test_a_stream_operators_configured_differently_is_left_as_it_is(
    js: JetStreamContext,
) -> None:
    await js.add_stream(
        StreamConfig(name="ONE_DLQ", subjects=["one.v1.*.dlq.>"], max_age=60, description="ops")
    )
    await declare_streams(js, Settings())
    dlq = (await js.stream_info("ONE_DLQ")).config
    assert (dlq.max_age, dlq.description) == (60, "ops")
    assert (await js.stream_info("ONE_INGEST")).config.name == "ONE_INGEST"


async def test_in_the_per_tenant_layout_each_tenant_has_its_own_stream_and_limits(
    js: JetStreamContext,
) -> None:
    settings = Settings(ingest_layout="per_tenant", tenant_max_backlog_msgs=1000)
    await declare_streams(js, settings)
    assert "ONE_INGEST" not in {info.config.name for info in await js.streams_info()}
    await declare_tenant_stream(js, settings, "acme", TenantQuotas(max_backlog_msgs=2))
    await declare_tenant_stream(js, settings, "beta", TenantQuotas())
    acme = (await js.stream_info("ONE_INGEST_acme")).config
    assert acme.subjects == [f"one.v1.acme.{kind}.>" for kind in INGEST_KINDS]
    assert (acme.max_msgs, acme.discard) == (2, DiscardPolicy.NEW)
    assert (await js.stream_info("ONE_INGEST_beta")).config.max_msgs == 1000

    # The same Nats-Msg-Id in two tenants is two messages: each stream dedupes its own.
    first = await js.publish("one.v1.acme.events.x", b"{}", headers={"Nats-Msg-Id": "order-1"})
    other = await js.publish("one.v1.beta.events.x", b"{}", headers={"Nats-Msg-Id": "order-1"})
    again = await js.publish("one.v1.acme.events.x", b"{}", headers={"Nats-Msg-Id": "order-1"})
    assert (first.duplicate, other.duplicate, again.duplicate) == (None, None, True)

    # Over quota: refused at once, nothing older dropped.
    await js.publish("one.v1.acme.events.x", b"{}")
    with pytest.raises(APIError, match="maximum messages"):
        await js.publish("one.v1.acme.events.x", b"{}")
    assert (await js.stream_info("ONE_INGEST_acme")).state.messages == 2

    # Raising the quota applies to the existing stream; deleting removes its backlog.
    await declare_tenant_stream(js, settings, "acme", TenantQuotas(max_backlog_msgs=5))
    await js.publish("one.v1.acme.events.x", b"{}")
    assert await delete_tenant_stream(js, settings, "acme")
    assert not await delete_tenant_stream(js, settings, "acme")


async def test_the_shared_layout_beside_tenants_streams_is_one_clear_error(
    js: JetStreamContext,
) -> None:
    settings = Settings(ingest_layout="per_tenant")
    await declare_streams(js, settings)
    await declare_tenant_stream(js, settings, "acme", TenantQuotas())
    with pytest.raises(LayoutMismatchError, match="ONE_INGEST_LAYOUT=per_tenant"):
        await declare_streams(js, Settings(ingest_layout="shared"))

"""Per-tenant quotas: written by `tenant add/set`, followed by every service process."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext

from contracts.tenancy import TenantQuotas
from services.runtime.embedded import EmbeddedServers
from services.runtime.tenant_directory import (
    TenantDirectory,
    delete_quotas,
    put_quotas,
    read_quotas,
    tenants_bucket,
)
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration

DEFAULTS = TenantQuotas(
    max_backlog_bytes=1000,
    max_backlog_msgs=10,
    max_concurrent_queries=4,
    max_watches=5,
    max_consumers=2,
)


def _now(read: Callable[[str], TenantQuotas], tenant: str) -> Callable[[], Awaitable[TenantQuotas]]:
    async def probe() -> TenantQuotas:
        return read(tenant)

    return probe


@pytest.fixture
async def js(tmp_path: Path) -> AsyncIterator[JetStreamContext]:
    async with EmbeddedServers(tmp_path) as servers:
        client = await nats.connect(servers.nats_url)
        yield client.jetstream()
        await client.close()


async def test_a_tenant_without_an_entry_has_the_defaults(js: JetStreamContext) -> None:
    kv = await tenants_bucket(js)
    directory = TenantDirectory(js, DEFAULTS)
    await directory.start(kv)
    await asyncio.wait_for(directory.loaded.wait(), 10)
    assert directory.quotas("acme") == DEFAULTS
    assert await read_quotas(kv, "acme") is None
    await directory.stop()


async def test_entries_present_at_start_and_written_later_are_followed(
    js: JetStreamContext,
) -> None:
    kv = await tenants_bucket(js)
    await put_quotas(kv, "acme", TenantQuotas(max_concurrent_queries=1))
    directory = TenantDirectory(js, DEFAULTS)
    await directory.start(kv)
    await asyncio.wait_for(directory.loaded.wait(), 10)
    # Its own value where it has one, the defaults for the rest.
    assert directory.quotas("acme") == DEFAULTS.model_copy(update={"max_concurrent_queries": 1})

    await put_quotas(kv, "beta", TenantQuotas(max_watches=1))
    seen = await eventually(_now(directory.quotas, "beta"), lambda q: q.max_watches == 1)
    assert seen.max_watches == 1
    await delete_quotas(kv, "acme")
    assert await eventually(_now(directory.quotas, "acme"), lambda q: q == DEFAULTS) == DEFAULTS
    assert await read_quotas(kv, "beta") == TenantQuotas(max_watches=1)
    await directory.stop()


async def test_an_entry_that_is_not_quotas_leaves_that_tenant_on_the_defaults(
    js: JetStreamContext,
) -> None:
    kv = await tenants_bucket(js)
    await kv.put("acme", b'{"max_watches": "many"}')
    await put_quotas(kv, "beta", TenantQuotas(max_watches=2))
    directory = TenantDirectory(js, DEFAULTS)
    await directory.start(kv)
    await asyncio.wait_for(directory.loaded.wait(), 10)
    assert directory.quotas("acme") == DEFAULTS
    assert directory.quotas("beta").max_watches == 2
    with pytest.raises(ValueError, match="not a tenant"):
        await put_quotas(kv, "a.b", TenantQuotas())
    await directory.stop()

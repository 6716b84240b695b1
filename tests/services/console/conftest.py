"""The console against the session's real servers and service, one tenant per test."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from contracts.connection_spec import ConnectionSpec
from one_bus import OneClient
from services.console.bus import ConsoleBus
from services.console.server import ConsoleServer
from services.settings import Settings
from tests.services.console.seed import Seeded, seed


@pytest.fixture
async def one(nats_url: str, tenant: str) -> AsyncIterator[OneClient]:
    async with OneClient(tenant, ConnectionSpec(servers=[nats_url])) as client:
        yield client


@pytest.fixture
async def seeded(one: OneClient) -> Seeded:
    return await seed(one)


@asynccontextmanager
async def serving(
    nats_url: str, tenant: str, settings: Settings, role: str | None = None
) -> AsyncIterator[ConsoleServer]:
    """The console for `tenant` on the open test server, as an identity of `role`."""
    spec = ConnectionSpec(servers=[nats_url], tenant=tenant, role=role)
    bus = await ConsoleBus(spec, tenant, settings).start()
    try:
        # Port 0: a free port, read back from the bound socket.
        async with ConsoleServer(bus, port=0, sample_every_s=0.5) as server:
            yield server
    finally:
        await bus.close()


@pytest.fixture
async def console(
    nats_url: str, tenant: str, bus_settings: Settings, bus: object
) -> AsyncIterator[ConsoleServer]:
    async with serving(nats_url, tenant, bus_settings) as server:
        yield server


@pytest.fixture
async def customer_console(
    nats_url: str, tenant: str, bus_settings: Settings, bus: object
) -> AsyncIterator[ConsoleServer]:
    async with serving(nats_url, tenant, bus_settings, role="customer") as server:
        yield server

"""The console against the session's real servers and service, one tenant per test."""

from collections.abc import AsyncIterator

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


async def serve(
    nats_url: str, tenant: str, settings: Settings, role: str | None = None
) -> tuple[ConsoleBus, ConsoleServer]:
    spec = ConnectionSpec(servers=[nats_url], tenant=tenant, role=role)
    bus = await ConsoleBus(spec, tenant, settings).start()
    # Port 0: a free port, read back from the bound socket.
    server = await ConsoleServer(bus, port=0, sample_every_s=0.5).start()
    return bus, server


@pytest.fixture
async def console(
    nats_url: str, tenant: str, bus_settings: Settings, bus: object
) -> AsyncIterator[ConsoleServer]:
    console_bus, server = await serve(nats_url, tenant, bus_settings)
    try:
        yield server
    finally:
        await server.stop()
        await console_bus.close()


@pytest.fixture
async def customer_console(
    nats_url: str, tenant: str, bus_settings: Settings, bus: object
) -> AsyncIterator[ConsoleServer]:
    console_bus, server = await serve(nats_url, tenant, bus_settings, role="customer")
    try:
        yield server
    finally:
        await server.stop()
        await console_bus.close()

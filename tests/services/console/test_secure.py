"""The console on the secure layout: it can do only what its identity may, and a refusal
by the bus's permissions is a message on the page, never a crash or a blank."""

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from contracts.connection_spec import ConnectionSpec
from one_bus import OneClient
from services.console.app import create_app
from services.console.bus import ConsoleBus
from services.console.server import ConsoleServer
from services.runtime.secure_dev import SecureStack
from services.runtime.service import OneBusService
from tests.fixtures.secure import TenantSpecs
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def as_identity(
    secure_stack: SecureStack, secure_bus: OneBusService
) -> AsyncIterator[list[tuple[ConsoleBus, ConsoleServer]]]:
    started: list[tuple[ConsoleBus, ConsoleServer]] = []
    yield started
    for bus, server in started:
        await server.stop()
        await bus.close()


async def console_as(
    started: list[tuple[ConsoleBus, ConsoleServer]],
    stack: SecureStack,
    spec: ConnectionSpec,
    tenant: str,
) -> httpx.AsyncClient:
    bus = await ConsoleBus(spec, tenant, stack.settings).start()
    server = await ConsoleServer(bus, port=0).start()
    started.append((bus, server))
    return httpx.AsyncClient(base_url=server.url, timeout=60)


async def test_the_publisher_sees_records_and_is_told_what_it_may_not_read(
    as_identity: list[tuple[ConsoleBus, ConsoleServer]],
    secure_stack: SecureStack,
    acme: TenantSpecs,
) -> None:
    async with OneClient(acme.tenant, acme.publisher) as one:
        entity_id, _ = await one.upsert_entity(type="creator", name="Secured Ada", actor_id="u1")
    async with await console_as(as_identity, secure_stack, acme.publisher, acme.tenant) as http:
        records = await eventually(lambda: http.get("/records"), lambda r: entity_id in r.text)
        letters = await http.get("/dead-letters")
        health = await http.get("/health")

    assert "Secured Ada" in records.text
    assert letters.status_code == 403
    assert "refused" in letters.text
    assert health.status_code == 200
    assert "refused" in health.text  # stream info and $SRV.STATS are the operator's


async def test_the_subscriber_reads_dead_letters_and_a_refused_replay_says_so(
    as_identity: list[tuple[ConsoleBus, ConsoleServer]],
    secure_stack: SecureStack,
    acme: TenantSpecs,
) -> None:
    async with OneClient(acme.tenant, acme.publisher) as one:
        await one.publish_raw("entities.creator.upsert", b"{not json")
    async with await console_as(as_identity, secure_stack, acme.subscriber, acme.tenant) as http:
        listing = await eventually(
            lambda: http.get("/dead-letters"), lambda r: "malformed_json" in r.text
        )
        seq = re.search(r'name="seq" value="(\d+)"', listing.text)
        token = re.search(r'name="form_token" value="([^"]+)"', listing.text)
        assert seq
        assert token
        replayed = await http.post(
            "/dead-letters/replay", data={"seq": seq.group(1), "form_token": token.group(1)}
        )

    assert listing.status_code == 200
    assert 'data-testid="outcome">not replayed<' in replayed.text
    assert "not allowed: this identity may not publish to" in replayed.text


async def test_a_login_with_nats_credentials_acts_as_that_identity(
    as_identity: list[tuple[ConsoleBus, ConsoleServer]],
    secure_stack: SecureStack,
    acme: TenantSpecs,
) -> None:
    # The console's own identity is acme's publisher; bound beyond loopback it asks a login.
    bus = await ConsoleBus(acme.publisher, acme.tenant, secure_stack.settings).start()
    app = create_app(bus, token="console-token", loopback_only=False)
    async with OneClient(acme.tenant, acme.publisher) as one:
        await one.publish_raw("entities.creator.upsert", b"{for the subscriber")
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://console", timeout=60
            ) as http,
        ):
            forged = acme.subscriber.model_copy(update={"password": "wrong"})
            refused = await http.post("/login", data={"spec": forged.model_dump_json()})
            accepted = await http.post(
                "/login", data={"spec": acme.subscriber.model_dump_json(), "next": "/dead-letters"}
            )
            letters = await eventually(
                lambda: http.get("/dead-letters"), lambda r: "malformed_json" in r.text
            )
    finally:
        await bus.close()

    assert refused.status_code == 403
    assert (accepted.status_code, accepted.headers["location"]) == (303, "/dead-letters")
    # The publisher may not read dead letters; the subscriber logged in may.
    assert letters.status_code == 200
    assert "malformed_json" in letters.text

"""Read-your-writes on real servers: a query or watch with `after: <seq>` sees every write
of its tenant up to that sequence, stored or dead-lettered, and answers `timeout` when
ingest does not get there within the request's deadline."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from contracts.errors import TIMEOUT_HEADER
from services.runtime.embedded import EmbeddedServers
from services.runtime.service import OneBusService
from services.settings import Settings
from tests.services.ingest.test_ingest_flow import upsert

pytestmark = [pytest.mark.integration]


async def request(
    client: Client, subject: str, body: dict[str, Any], timeout_ms: int = 10_000
) -> dict[str, Any]:
    reply = await client.request(
        subject,
        json.dumps(body).encode(),
        timeout=timeout_ms / 1000 + 5,
        headers={TIMEOUT_HEADER: str(timeout_ms)},
    )
    answer: dict[str, Any] = json.loads(reply.data)
    return answer


async def write(client: Client, tenant: str, entity: str, subject_type: str = "creator") -> int:
    payload = json.dumps(upsert(entity, 1000)).encode()
    subject = f"one.v1.{tenant}.entities.{subject_type}.upsert"
    ack = await client.jetstream().publish(subject, payload, headers={"Nats-Msg-Id": entity})
    return ack.seq


@pytest.mark.usefixtures("bus")
async def test_a_read_right_after_each_write_sees_it(nats_client: Client, tenant: str) -> None:
    """The issue's 50 reads sent right after the PubAck, each with the PubAck's `after`."""
    for n in range(50):
        entity = f"e{n}-{uuid.uuid4().hex[:6]}"
        seq = await write(nats_client, tenant, entity)
        get = f"one.v1.{tenant}.query.entities.get"
        answer = await request(nats_client, get, {"id": entity, "after": seq})
        assert answer["ok"], answer
        assert answer["data"]["id"] == entity


@pytest.mark.usefixtures("bus")
async def test_after_a_dead_lettered_write_the_read_answers_without_it(
    nats_client: Client, tenant: str
) -> None:
    entity = "dead-" + uuid.uuid4().hex[:6]
    seq = await write(nats_client, tenant, entity, subject_type="video")  # subject_mismatch
    get = f"one.v1.{tenant}.query.entities.get"
    answer = await request(nats_client, get, {"id": entity, "after": seq})
    assert answer["error"]["code"] == "not_found", answer


@pytest.mark.usefixtures("bus")
async def test_a_watch_with_after_starts_from_a_result_with_the_write(
    nats_client: Client, tenant: str
) -> None:
    entity = "w-" + uuid.uuid4().hex[:6]
    seq = await write(nats_client, tenant, entity)
    inbox = nats_client.new_inbox()
    watch = f"one.v1.{tenant}.watch.entities.list"
    answer = await request(
        nats_client, watch, {"type": "creator", "deliverTo": inbox, "after": seq}
    )
    assert answer["ok"], answer
    assert [item["id"] for item in answer["data"]["result"]["items"]] == [entity]
    stop = f"one.v1.{tenant}.watch.stop"
    await request(nats_client, stop, {"watchId": answer["data"]["watchId"]})


@pytest.mark.usefixtures("bus")
async def test_after_is_validated_like_every_field(nats_client: Client, tenant: str) -> None:
    get = f"one.v1.{tenant}.query.entities.get"
    for bad in (0, -1, "5", 2**63, 1.5):
        answer = await request(nats_client, get, {"id": "x", "after": bad})
        assert answer["error"]["code"] == "invalid_request", (bad, answer)


@pytest.fixture
async def stack(
    private_nats: EmbeddedServers, mongodb_uri: str
) -> AsyncIterator[tuple[Settings, Client]]:
    settings = Settings(
        nats_url=private_nats.nats_url,
        mongodb_uri=mongodb_uri,
        mongodb_db=f"one_bus_after_{uuid.uuid4().hex[:8]}",
    )
    # Declares the streams and the ingest consumer, then goes.
    async with OneBusService(settings, query=False):
        pass
    client = await nats.connect(settings.nats_url)
    try:
        yield settings, client
    finally:
        await client.drain()


async def test_with_ingest_stopped_after_times_out_then_answers_once_it_runs(
    stack: tuple[Settings, Client], tenant: str
) -> None:
    settings, client = stack
    entity = "late-" + uuid.uuid4().hex[:6]
    get = f"one.v1.{tenant}.query.entities.get"
    async with OneBusService(settings, ingest=False):
        seq = await write(client, tenant, entity)
        answer = await request(client, get, {"id": entity, "after": seq}, timeout_ms=300)
        assert answer["error"]["code"] == "timeout", answer
        assert answer["error"]["details"]["after"] == seq
        assert answer["error"]["details"]["reached"] < seq
        # Without `after`, nothing waits: what is stored now (nothing yet).
        answer = await request(client, get, {"id": entity})
        assert answer["error"]["code"] == "not_found", answer

        waiting = asyncio.create_task(request(client, get, {"id": entity, "after": seq}))
        async with OneBusService(settings, query=False):
            answer = await waiting
        assert answer["ok"], answer
        assert answer["data"]["id"] == entity

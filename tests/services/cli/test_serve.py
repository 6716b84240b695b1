"""`one-bus serve`: the service as containers run it, configured only by environment."""

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import nats.aio.client
import pytest

from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration

ONE_BUS = str(Path(sys.executable).parent / "one-bus")


@pytest.fixture
async def own_nats_client(private_nats_url: str) -> AsyncIterator[nats.aio.client.Client]:
    client = await nats.connect(private_nats_url)
    try:
        yield client
    finally:
        await client.drain()


async def test_serve_ingests_answers_queries_and_stops_cleanly_on_sigterm(
    private_nats_url: str, mongodb_uri: str, own_nats_client: nats.aio.client.Client, tenant: str
) -> None:
    nats_client = own_nats_client
    env = {
        **os.environ,
        "ONE_NATS_URL": private_nats_url,
        "ONE_MONGODB_URI": mongodb_uri,
        "ONE_MONGODB_DB": f"serve_{uuid.uuid4().hex[:8]}",
        # Its own consumer, so the session's in-process service does not take its messages.
        "ONE_INGEST_CONSUMER": f"serve-{uuid.uuid4().hex[:8]}",
        "ONE_QUERY_QUEUE_GROUP": f"serve-{uuid.uuid4().hex[:8]}",
    }
    process = await asyncio.create_subprocess_exec(
        ONE_BUS, "serve", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:

        async def ask() -> dict[str, object]:
            try:
                reply = await nats_client.request(
                    f"one.v1.{tenant}.query.entities.get", b'{"id": "c1"}', timeout=2
                )
            except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
                return {}
            answer: dict[str, object] = json.loads(reply.data)
            return answer

        # Up (it answers), and it has declared its streams: then publish.
        assert await eventually(ask, bool, timeout_s=60)
        entity = {"id": "c1", "type": "creator", "name": "Ada", "updatedAt": 1, "actorId": "u"}
        await nats_client.jetstream().publish(
            f"one.v1.{tenant}.entities.creator.upsert", json.dumps(entity).encode()
        )
        answer = await eventually(ask, lambda a: a.get("ok") is True, timeout_s=60)
        assert answer["ok"] is True
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, output.decode()
    assert b"event loop: uvloop" in output

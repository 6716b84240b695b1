"""Two query replicas share the work: every request is answered exactly once, by either.

Two ONE Bus services (query only), each with its own NATS connection, on a NATS server of
the test's own, so they are the only responders. Each request asks for a different entity,
so a reply that went to the wrong request would show.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from contracts.subjects import query_subject
from services.query.micro import SERVICE_NAME
from services.runtime.service import OneBusService
from services.settings import Settings
from tests.services.query.micro_client import ask_all, ask_one, ids
from tests.services.query.stored import entity, insert

pytestmark = pytest.mark.integration

REQUESTS = 200


@pytest.fixture
async def replicas(
    private_nats_url: str, bus_settings: Settings, query_db: Any
) -> AsyncIterator[list[OneBusService]]:
    # One tenant sends all REQUESTS at once: its quota of requests in hand must allow it.
    settings = bus_settings.model_copy(
        update={
            "nats_url": private_nats_url,
            "declare_streams": False,
            "tenant_max_concurrent_queries": REQUESTS,
        }
    )
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(OneBusService(settings, ingest=False)) for _ in range(2)
        ]


async def test_two_replicas_answer_every_request_once_and_both_take_a_share(
    replicas: list[OneBusService], private_client: NatsClient, query_db: Any, tenant: str
) -> None:
    await insert(query_db, "entities", *(entity(tenant, f"e{n}") for n in range(REQUESTS)))
    pings = await ask_all(
        private_client, f"$SRV.PING.{SERVICE_NAME}", until=lambda found: len(found) == 2
    )
    assert len(ids(pings)) == 2

    async def get(n: int) -> str:
        request = json.dumps({"id": f"e{n}"}).encode()
        reply = await private_client.request(
            query_subject(tenant, "entities.get"), request, timeout=10
        )
        entity_id: str = json.loads(reply.data)["data"]["id"]
        return entity_id

    answered = await asyncio.gather(*(get(n) for n in range(REQUESTS)))
    assert answered == [f"e{n}" for n in range(REQUESTS)]

    # Each replica counts what it handled: the shares add up to exactly one per request.
    served = []
    for replica_id in ids(pings):
        stats = await ask_one(private_client, f"$SRV.STATS.{SERVICE_NAME}.{replica_id}")
        (endpoint,) = [e for e in stats["endpoints"] if e["name"] == "entities_get"]
        assert endpoint["num_errors"] == 0
        served.append(endpoint["num_requests"])
    assert sum(served) == REQUESTS
    assert min(served) > 0

"""Overload is answered, not queued: a replica holding its limit of requests answers the
next ones `timeout` at once, a request whose requester has given up is never read, and
the replica serves normally as soon as the burst is over."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, cast

import nats
import pytest
from nats.aio.client import Client as NatsClient
from pymongo.asynchronous.database import AsyncDatabase

from contracts.errors import TIMEOUT_HEADER
from contracts.subjects import query_subject
from services.query.responder import QueryResponder
from services.settings import Settings
from services.store.mongodb.store import MongoReads
from tests.services.query.stored import entity, insert

pytestmark = pytest.mark.integration

Document = dict[str, Any]


@pytest.fixture
async def small_replica(
    private_nats_url: str, query_db: AsyncDatabase[Document], bus_settings: Settings
) -> AsyncIterator[QueryResponder]:
    """One replica that reads one query at a time and holds at most 4."""
    settings = bus_settings.model_copy(update={"query_max_concurrency": 1, "query_max_pending": 4})
    connection = await nats.connect(private_nats_url)
    responder = QueryResponder(connection, MongoReads(query_db), settings)
    await responder.start()
    try:
        yield responder
    finally:
        await responder.stop(5)
        await connection.drain()


async def ask(
    private_client: NatsClient, tenant: str, name: str, request: Document, **headers: str
) -> Document:
    reply = await private_client.request(
        query_subject(tenant, name), json.dumps(request).encode(), timeout=10, headers=headers
    )
    answer: Document = json.loads(reply.data)
    return answer


async def test_a_burst_beyond_the_replicas_limit_is_answered_timeout_at_once_not_queued(
    small_replica: QueryResponder,
    private_client: NatsClient,
    query_db: AsyncDatabase[Document],
    tenant: str,
) -> None:
    await insert(
        query_db, "entities", *(entity(tenant, f"e{n}", name=f"Name {n}") for n in range(50))
    )
    answers = await asyncio.gather(
        *(ask(private_client, tenant, "entities.search", {"text": f"name {n}"}) for n in range(120))
    )
    # Every request answered (no requester waited out its own timeout), each either right
    # or refused as overloaded.
    overloaded = [a for a in answers if not a["ok"]]
    served = [(n, a) for n, a in enumerate(answers) if a["ok"]]
    assert overloaded, "120 requests at once never went over a limit of 4"
    assert all(a["error"]["code"] == "timeout" for a in overloaded)
    assert all("overloaded" in a["error"]["message"] for a in overloaded)
    assert served
    for n, answer in served:
        assert answer["data"]["items"][0]["id"] == f"e{n}"
    endpoints = cast(list[Document], small_replica.micro.stats()["endpoints"])
    search = next(e for e in endpoints if e["name"] == "entities_search")
    assert search["num_requests"] == 120
    # The burst is over: the replica answers at once again.
    after = await ask(private_client, tenant, "entities.get", {"id": "e7"})
    assert after["data"]["id"] == "e7"


async def test_a_request_whose_requester_has_given_up_is_not_read(
    small_replica: QueryResponder,
    private_client: NatsClient,
    query_db: AsyncDatabase[Document],
    tenant: str,
) -> None:
    await insert(query_db, "entities", entity(tenant, "e1"))
    gone = await ask(private_client, tenant, "entities.get", {"id": "e1"}, **{TIMEOUT_HEADER: "0"})
    assert gone["error"]["code"] == "timeout"
    patient = await ask(
        private_client, tenant, "entities.get", {"id": "e1"}, **{TIMEOUT_HEADER: "5000"}
    )
    assert patient["data"]["id"] == "e1"
    ignored = await ask(
        private_client, tenant, "entities.get", {"id": "e1"}, **{TIMEOUT_HEADER: "soon"}
    )
    assert ignored["data"]["id"] == "e1"

"""The responder is a NATS micro service: discovery and statistics, read by a plain client.

One responder on a NATS server of the test's own, so every request it is sent is its to
answer and its statistics count exactly those.
"""

import json
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient
from pymongo.asynchronous.database import AsyncDatabase

from contracts.errors import SERVICE_ERROR_CODE_HEADER
from contracts.queries import QUERY_MODELS
from contracts.subjects import query_subject
from services.query.micro import SERVICE_NAME, MicroService
from services.query.responder import QueryResponder
from services.settings import Settings
from services.store.mongodb.store import MongoReads
from tests.services.query.micro_client import ask_all, ask_one
from tests.services.query.stored import entity, insert

pytestmark = pytest.mark.integration

Document = dict[str, Any]


@pytest.fixture
async def replica(
    private_nats_url: str, query_db: AsyncDatabase[Document], bus_settings: Settings
) -> AsyncIterator[MicroService]:
    connection = await nats.connect(private_nats_url)
    responder = QueryResponder(connection, MongoReads(query_db), bus_settings)
    await responder.start()
    try:
        yield responder.micro
    finally:
        await responder.stop(5)
        await connection.drain()


@pytest.mark.parametrize(
    "subject",
    ["$SRV.PING", f"$SRV.PING.{SERVICE_NAME}", "$SRV.PING.{name}.{id}"],
    ids=["all", "by-name", "by-id"],
)
async def test_ping_answers_on_all_three_forms(
    replica: MicroService, private_client: NatsClient, subject: str
) -> None:
    subject = subject.format(name=SERVICE_NAME, id=replica.id)
    replies = await ask_all(private_client, subject, until=lambda found: bool(found))
    assert replies == [
        {
            "type": "io.nats.micro.v1.ping_response",
            "id": replica.id,
            "name": SERVICE_NAME,
            "version": replica.version,
            "metadata": {},
        }
    ]


async def test_another_service_name_or_id_gets_no_answer(
    replica: MicroService, private_client: NatsClient
) -> None:
    for subject in ("$SRV.PING.other-service", f"$SRV.PING.{SERVICE_NAME}.not-this-id"):
        with pytest.raises(nats.errors.NoRespondersError):
            await private_client.request(subject, b"", timeout=5)


async def test_info_lists_one_endpoint_per_query_in_the_queue_group(
    replica: MicroService, private_client: NatsClient, bus_settings: Settings
) -> None:
    info = await ask_one(private_client, f"$SRV.INFO.{SERVICE_NAME}.{replica.id}")
    assert info["type"] == "io.nats.micro.v1.info_response"
    assert (info["id"], info["name"], info["version"]) == (
        replica.id,
        SERVICE_NAME,
        replica.version,
    )
    assert info["description"]
    endpoints = {endpoint["metadata"]["query"]: endpoint for endpoint in info["endpoints"]}
    assert set(endpoints) == set(QUERY_MODELS)
    assert endpoints["entities.get"] == {
        "name": "entities_get",
        "subject": "one.v1.*.query.entities.get",
        "queue_group": bus_settings.query_queue_group,
        "metadata": {"query": "entities.get"},
    }


async def test_stats_count_requests_errors_and_time_per_endpoint(
    replica: MicroService, private_client: NatsClient, query_db: Any, tenant: str
) -> None:
    await insert(query_db, "entities", entity(tenant, "e1"))

    async def ask(name: str, payload: bytes) -> dict[str, str]:
        reply = await private_client.request(query_subject(tenant, name), payload, timeout=10)
        return dict(reply.headers or {})

    assert SERVICE_ERROR_CODE_HEADER not in await ask("entities.get", b'{"id": "e1"}')
    assert (await ask("entities.get", b'{"id": "nobody"}'))[SERVICE_ERROR_CODE_HEADER] == "404"
    assert (await ask("entities.get", b"garbage"))[SERVICE_ERROR_CODE_HEADER] == "400"
    assert SERVICE_ERROR_CODE_HEADER not in await ask("entities.search", b'{"text": "name"}')

    stats = await ask_one(private_client, f"$SRV.STATS.{SERVICE_NAME}.{replica.id}")
    assert stats["type"] == "io.nats.micro.v1.stats_response"
    assert stats["id"] == replica.id
    assert stats["started"].endswith("Z")
    by_name = {endpoint["name"]: endpoint for endpoint in stats["endpoints"]}
    get = by_name["entities_get"]
    assert (get["num_requests"], get["num_errors"]) == (3, 2)
    assert get["last_error"] == "400:invalid EntitiesGet request"
    assert get["processing_time"] > 0
    assert get["average_processing_time"] == get["processing_time"] // 3
    search = by_name["entities_search"]
    assert (search["num_requests"], search["num_errors"], search["last_error"]) == (1, 0, "")
    assert by_name["stats_counts"]["num_requests"] == 0
    assert get["queue_group"] == search["queue_group"]


async def test_unknown_queries_are_refused_and_counted_on_no_endpoint(
    replica: MicroService, private_client: NatsClient, tenant: str
) -> None:
    reply = await private_client.request(query_subject(tenant, "entities.drop"), b"{}", timeout=10)
    assert json.loads(reply.data)["error"]["code"] == "invalid_request"
    assert reply.headers is not None
    assert reply.headers[SERVICE_ERROR_CODE_HEADER] == "400"
    stats = await ask_one(private_client, f"$SRV.STATS.{SERVICE_NAME}.{replica.id}")
    assert sum(endpoint["num_requests"] for endpoint in stats["endpoints"]) == 0

"""A query responder on the session's real NATS server, and a client that asks it.

Every query responder on one NATS server shares the endpoint subjects
(`one.v1.*.query.<name>`) and the queue group, so a request is answered by exactly one of
them: this module's responder (one for the session, as a replica runs) or the session's
ONE Bus service (`bus` fixture), if another test has started it. Both read the same
database (the one `bus_settings` names), so whichever answers, the answer is the same.
Each test writes under its own tenant and removes that tenant's documents after.
"""

import json
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

import nats
import pytest
from nats.aio.client import Client as NatsClient
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from contracts.ontology import COLLECTIONS
from contracts.subjects import query_subject
from services.query.micro import MicroService
from services.query.responder import QueryResponder
from services.settings import Settings
from services.store.mongodb.indexes import ensure_indexes
from services.store.mongodb.store import MongoReads

Document = dict[str, Any]


@dataclass(frozen=True)
class Answer:
    body: Any
    headers: dict[str, str]

    @property
    def data(self) -> Any:
        assert self.body["ok"] is True, self.body
        return self.body["data"]

    @property
    def error(self) -> Document:
        assert self.body["ok"] is False, self.body
        error: Document = self.body["error"]
        return error


class Ask(Protocol):
    def __call__(
        self, name: str, payload: Any = None, *, raw: bytes | None = None, tenant: str | None = None
    ) -> Awaitable[Answer]: ...


@pytest.fixture
async def query_db(
    mongo_client: AsyncMongoClient[Document], bus_settings: Settings, tenant: str
) -> AsyncIterator[AsyncDatabase[Document]]:
    database = mongo_client[bus_settings.mongodb_db]
    await ensure_indexes(database)
    try:
        yield database
    finally:
        for collection in COLLECTIONS:
            await database[collection].delete_many({"groupId": {"$in": [tenant, f"{tenant}x"]}})


@pytest.fixture(scope="session")
async def responder(
    nats_url: str, mongo_client: AsyncMongoClient[Document], bus_settings: Settings
) -> AsyncIterator[MicroService]:
    """The session's query responder (its micro identity: `id`, statistics)."""
    database = mongo_client[bus_settings.mongodb_db]
    await ensure_indexes(database)
    client = await nats.connect(nats_url)
    responder = QueryResponder(client, MongoReads(database), bus_settings)
    await responder.start()
    try:
        yield responder.micro
    finally:
        await responder.stop(5)
        await client.drain()


@pytest.fixture
def ask(responder: MicroService, nats_client: NatsClient, tenant: str) -> Ask:
    """`await ask("entities.get", {"id": "e1"})`: one request on the tenant's subject."""
    asker = tenant

    async def request(
        name: str, payload: Any = None, *, raw: bytes | None = None, tenant: str | None = None
    ) -> Answer:
        data = raw if raw is not None else json.dumps(payload if payload is not None else {})
        message = await nats_client.request(
            query_subject(tenant or asker, name),
            data.encode() if isinstance(data, str) else data,
            timeout=10,
        )
        return Answer(json.loads(message.data), dict(message.headers or {}))

    return request

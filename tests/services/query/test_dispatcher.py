"""The dispatcher turns every outcome into a typed reply; settings bound what it does.

These call the dispatcher directly (no NATS) with a real database, so a test can choose
its own settings without racing other responders on the shared NATS server.
"""

import asyncio
import json
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from contracts.errors import SERVICE_ERROR_CODE_HEADER
from contracts.queries import MAX_SEARCH_LIMIT, EntitiesList, QuerySpec
from services.query.context import QueryContext
from services.query.dispatcher import QueryDispatcher, parse_query_subject
from services.query.errors import InvalidRequestError
from services.query.route import Route
from services.query.routes import ROUTES
from services.runtime.embedded import free_port
from services.settings import Settings
from services.store.errors import StoreUnavailableError
from services.store.memory.reads import MemoryReads
from services.store.memory.tables import empty_tables
from services.store.mongodb.indexes import ensure_indexes
from services.store.mongodb.store import MongoReads
from services.store.port import Page
from tests.services.query.stored import entity, insert
from tests.services.store.memory_port import memory_port
from tests.services.store.port_suite import T, upsert

Document = dict[str, Any]


def _body(reply: Any) -> Document:
    body: Document = json.loads(reply.body)
    return body


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("one.v1.acme.query.entities.get", ("acme", "entities.get")),
        ("one.v1.a-b_C.query.x", ("a-b_C", "x")),
    ],
)
def test_query_subjects_name_the_tenant_and_the_query(
    subject: str, expected: tuple[str, str]
) -> None:
    assert parse_query_subject(subject) == expected


@pytest.mark.parametrize(
    "subject",
    [
        "one.v1.acme.query",
        "one.v2.acme.query.entities.get",
        "one.v1.acme.events.entities.get",
        "one.v1.a!b.query.entities.get",
        f"one.v1.{'t' * 65}.query.entities.get",
    ],
)
def test_other_subjects_are_invalid_requests(subject: str) -> None:
    with pytest.raises(InvalidRequestError):
        parse_query_subject(subject)


@pytest.fixture
async def db(database: AsyncDatabase[Document]) -> AsyncDatabase[Document]:
    await ensure_indexes(database)
    return database


# Policy on the in-memory store (no servers): the port suite holds it to MongoDB's answers.


async def test_a_deployment_may_lower_the_page_size() -> None:
    store = memory_port()
    await store.write(*(upsert(f"e{n}", n) for n in range(5)))
    dispatcher = QueryDispatcher(store.reads, Settings(query_max_limit=2, query_default_limit=1))
    subject = f"one.v1.{T}.query.entities.list"

    default = _body(await dispatcher.dispatch(subject, b"{}"))
    assert len(default["data"]["items"]) == 1
    capped = _body(await dispatcher.dispatch(subject, b'{"limit": 500}'))
    assert len(capped["data"]["items"]) == 2
    cursor = capped["data"]["nextCursor"]
    assert cursor is not None
    following = json.dumps({"limit": 2, "cursor": cursor}).encode()
    rest = _body(await dispatcher.dispatch(subject, following))
    assert [item["id"] for item in rest["data"]["items"]] == ["e2", "e1"]


async def test_a_cursor_of_another_query_is_an_invalid_request() -> None:
    store = memory_port()
    await store.write(*(upsert(f"e{n}", n) for n in range(3)))
    dispatcher = QueryDispatcher(store.reads, Settings())
    subject = f"one.v1.{T}.query.entities.list"
    first = _body(await dispatcher.dispatch(subject, b'{"limit": 1}'))
    other = json.dumps({"type": "creator", "cursor": first["data"]["nextCursor"]}).encode()
    error = _body(await dispatcher.dispatch(subject, other))["error"]
    assert error["code"] == "invalid_request"
    assert error["details"][0]["type"] == "invalid_cursor"


async def test_a_search_never_returns_more_than_its_contract_allows() -> None:
    store = memory_port()
    await store.write(*(upsert(f"e{n}", n, name="Same") for n in range(120)))
    dispatcher = QueryDispatcher(store.reads, Settings(query_default_limit=500))
    reply = await dispatcher.dispatch(f"one.v1.{T}.query.entities.search", b'{"text": "same"}')
    assert len(_body(reply)["data"]["items"]) == MAX_SEARCH_LIMIT


async def test_a_query_past_its_deadline_is_a_timeout() -> None:
    store = memory_port()
    await store.write(upsert("e1", 1))
    dispatcher = QueryDispatcher(store.reads, Settings(query_timeout_s=1e-6))
    reply = await dispatcher.dispatch(f"one.v1.{T}.query.entities.list", b"{}")
    assert _body(reply)["error"]["code"] == "timeout"
    assert reply.headers[SERVICE_ERROR_CODE_HEADER] == "408"


async def test_an_entity_that_is_not_there_is_not_found() -> None:
    store = memory_port()
    await store.write(upsert("e1", 1))
    dispatcher = QueryDispatcher(store.reads, Settings())
    subject = f"one.v1.{T}.query.entities.get"
    assert _body(await dispatcher.dispatch(subject, b'{"id": "e1"}'))["data"]["id"] == "e1"
    error = _body(await dispatcher.dispatch(subject, b'{"id": "e1", "type": "organization"}'))
    assert error["error"] == {
        "code": "not_found",
        "message": "no organization entity 'e1'",
        "details": {"id": "e1"},
    }


class _FailingReads(MemoryReads):
    async def list_page(self, *args: Any, **kwargs: Any) -> Page:
        raise StoreUnavailableError("no primary")


async def test_a_store_that_fails_is_internal_and_keeps_its_reason_to_itself() -> None:
    dispatcher = QueryDispatcher(_FailingReads(empty_tables()), Settings())
    reply = await dispatcher.dispatch(f"one.v1.{T}.query.entities.list", b"{}")
    assert _body(reply)["error"] == {
        "code": "internal",
        "message": "the store failed to answer",
        "details": None,
    }
    assert dispatcher.store_slots.free == dispatcher.store_slots.size


@pytest.mark.integration
async def test_an_unreachable_store_is_a_timeout_not_a_crash(tenant: str) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        f"mongodb://127.0.0.1:{free_port()}/?directConnection=true",
        serverSelectionTimeoutMS=200,
    )
    try:
        # The query deadline bounds server selection too (pymongo's client-side timeout).
        dispatcher = QueryDispatcher(MongoReads(client["one"]), Settings(query_timeout_s=0.5))
        reply = await dispatcher.dispatch(f"one.v1.{tenant}.query.entities.get", b'{"id":"e1"}')
        assert _body(reply)["error"]["code"] == "timeout"
    finally:
        await client.close()


async def _broken_handler(context: QueryContext, request: EntitiesList) -> Any:
    raise RuntimeError("secret internals")


async def test_an_unexpected_failure_is_internal_and_says_nothing_more(
    monkeypatch: pytest.MonkeyPatch, database: AsyncDatabase[Document]
) -> None:
    monkeypatch.setitem(
        ROUTES, "broken.query", Route(QuerySpec("broken.query", EntitiesList, Any), _broken_handler)
    )
    reply = await QueryDispatcher(MongoReads(database), Settings()).dispatch(
        "one.v1.acme.query.broken.query", b"{}"
    )
    assert _body(reply) == {
        "ok": False,
        "error": {"code": "internal", "message": "the query failed", "details": None},
    }
    assert reply.headers[SERVICE_ERROR_CODE_HEADER] == "500"


async def test_validation_problems_are_reported_without_echoing_input(
    database: AsyncDatabase[Document],
) -> None:
    reply = await QueryDispatcher(MongoReads(database), Settings()).dispatch(
        "one.v1.acme.query.entities.get", json.dumps({"id": {"$gt": "s3cr3t"}}).encode()
    )
    body = _body(reply)
    assert body["error"]["code"] == "invalid_request"
    assert body["error"]["details"][0]["loc"] == ["id"]
    assert "s3cr3t" not in reply.body.decode()


# Bounded store work: hostile input never waits for it, good queries wait their turn.

HOSTILE: list[tuple[str, bytes]] = [
    ("entities.get", b"\xff\xfe garbage"),
    ("entities.get", b"[" * 100_000),
    ("entities.get", b'{"id": {"$gt": ""}}'),
    ("entities.get", b"x" * 70_000),
    ("entities.list", b'{"limit": 1000000}'),
    ("entities.list", b'{"createdAfter": "yesterday"}'),
    ("entities.search", b'{"text": {"$regex": ".*"}}'),
    ("graph.traverse", b'{"startId": "e1", "direction": "out", "depth": 50}'),
    ("events.list", b'{"metadata": {"status": {"$ne": null}}}'),
    ("no.such.query", b"{}"),
]


class _HeldQuery:
    """A route whose handler holds its store slot until released."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def handle(self, context: QueryContext, request: EntitiesList) -> Any:
        self.entered.set()
        await self.release.wait()
        return {"held": True}


@pytest.mark.integration
async def test_refused_requests_are_answered_while_every_store_slot_is_taken(
    monkeypatch: pytest.MonkeyPatch, db: AsyncDatabase[Document], tenant: str
) -> None:
    await insert(db, "entities", entity(tenant, "e1"))
    held = _HeldQuery()
    monkeypatch.setitem(
        ROUTES, "held.query", Route(QuerySpec("held.query", EntitiesList, Any), held.handle)
    )
    dispatcher = QueryDispatcher(
        MongoReads(db), Settings(query_max_concurrency=1, query_timeout_s=60)
    )
    subject = f"one.v1.{tenant}.query."

    holder = asyncio.create_task(dispatcher.dispatch(subject + "held.query", b"{}"))
    await held.entered.wait()
    for name, body in HOSTILE:
        reply = await dispatcher.dispatch(subject + name, body)
        assert _body(reply)["error"]["code"] == "invalid_request", (name, body[:20])
    waiting = asyncio.create_task(dispatcher.dispatch(subject + "entities.get", b'{"id": "e1"}'))
    await asyncio.sleep(0)
    assert not waiting.done()  # the only slot is taken: a valid query waits for it

    held.release.set()
    assert _body(await holder)["data"] == {"held": True}
    assert _body(await waiting)["data"]["id"] == "e1"


@pytest.mark.integration
async def test_a_query_that_cannot_get_a_store_slot_in_time_is_a_timeout(
    monkeypatch: pytest.MonkeyPatch, db: AsyncDatabase[Document], tenant: str
) -> None:
    held = _HeldQuery()
    monkeypatch.setitem(
        ROUTES, "held.query", Route(QuerySpec("held.query", EntitiesList, Any), held.handle)
    )
    dispatcher = QueryDispatcher(
        MongoReads(db), Settings(query_max_concurrency=1, query_timeout_s=0.2)
    )
    holder = asyncio.create_task(dispatcher.dispatch(f"one.v1.{tenant}.query.held.query", b"{}"))
    await held.entered.wait()
    reply = await dispatcher.dispatch(f"one.v1.{tenant}.query.entities.list", b"{}")
    assert _body(reply)["error"]["code"] == "timeout"
    assert reply.headers[SERVICE_ERROR_CODE_HEADER] == "408"
    # The holder ran past its own deadline too: answered `timeout`, its read still holds
    # the slot (a store command is never cut off; maxTimeMS ends a real one) until it ends.
    assert _body(await holder)["error"]["code"] == "timeout"
    assert dispatcher.store_slots.held == {tenant: 1}
    held.release.set()
    await dispatcher.drain(10)
    assert not dispatcher.store_slots.held
    assert dispatcher.store_slots.free == 1


@pytest.mark.integration
async def test_hostile_requests_are_refused_before_any_store_io(tenant: str) -> None:
    # Nothing listens on this port: any read would end in a timeout, not a refusal.
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        f"mongodb://127.0.0.1:{free_port()}/?directConnection=true",
        serverSelectionTimeoutMS=200,
    )
    try:
        dispatcher = QueryDispatcher(MongoReads(client["one"]), Settings(query_timeout_s=0.5))
        for name, body in HOSTILE:
            reply = await dispatcher.dispatch(f"one.v1.{tenant}.query.{name}", body)
            assert _body(reply)["error"]["code"] == "invalid_request", (name, body[:20])
    finally:
        await client.close()


class _Commands(monitoring.CommandListener):
    """Every command the client sends, as sent."""

    def __init__(self) -> None:
        self.sent: list[Document] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.mark.integration
async def test_every_store_command_carries_the_query_deadline_as_max_time_ms(
    mongodb_uri: str, db: AsyncDatabase[Document], tenant: str
) -> None:
    await insert(db, "entities", entity(tenant, "e1", name="Ada"))
    listener = _Commands()
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongodb_uri, event_listeners=[listener])
    try:
        dispatcher = QueryDispatcher(MongoReads(client[db.name]), Settings(query_timeout_s=2))
        for name, body in [
            ("entities.get", b'{"id": "e1"}'),
            ("entities.list", b"{}"),
            ("entities.search", b'{"text": "ada"}'),
            ("connections.list", b'{"fromEntityId": "e1", "withEntities": true}'),
            ("events.list", b"{}"),
            ("tags.list", b'{"entityId": "e1"}'),
            ("graph.traverse", b'{"startId": "e1", "direction": "both", "depth": 2}'),
            ("stats.counts", b'{"collection": "entities", "groupBy": "type"}'),
        ]:
            reply = await dispatcher.dispatch(f"one.v1.{tenant}.query.{name}", body)
            assert _body(reply)["ok"] is True, (name, reply.body)
    finally:
        await client.close()
    reads = [command for command in listener.sent if "aggregate" in command]
    assert len(reads) >= 8
    assert all(0 < command["maxTimeMS"] <= 2000 for command in reads), reads


@pytest.mark.integration
async def test_lookups_sharing_a_read_share_its_store_slot(
    db: AsyncDatabase[Document], tenant: str
) -> None:
    # One slot per tenant: lookups still share reads (one slot per read, not per lookup).
    await insert(db, "entities", *(entity(tenant, f"e{n}") for n in range(50)))
    dispatcher = QueryDispatcher(MongoReads(db), Settings(query_max_concurrency_per_tenant=1))
    subject = f"one.v1.{tenant}.query.entities.get"
    replies = await asyncio.gather(
        *(dispatcher.dispatch(subject, json.dumps({"id": f"e{n}"}).encode()) for n in range(50))
    )
    assert [_body(r)["data"]["id"] for r in replies] == [f"e{n}" for n in range(50)]
    assert dispatcher.store_slots.granted[tenant] < 50
    assert not dispatcher.store_slots.held

"""The dispatcher turns every outcome into a typed reply; settings bound what it does.

These call the dispatcher directly (no NATS) with a real database, so a test can choose
its own settings without racing other responders on the shared NATS server.
"""

import json
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from contracts.errors import SERVICE_ERROR_CODE_HEADER
from contracts.queries import EntitiesList
from services.query.context import QueryContext
from services.query.dispatcher import QueryDispatcher, parse_query_subject
from services.query.errors import InvalidRequestError
from services.query.routes import ROUTES, Route
from services.runtime.embedded import free_port
from services.settings import Settings
from services.store.indexes import ensure_indexes
from tests.services.query.stored import entity, insert

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


@pytest.mark.integration
async def test_a_deployment_may_lower_the_page_size(
    db: AsyncDatabase[Document], tenant: str
) -> None:
    await insert(db, "entities", *(entity(tenant, f"e{n}", created=n) for n in range(5)))
    dispatcher = QueryDispatcher(db, Settings(query_max_limit=2, query_default_limit=1))
    subject = f"one.v1.{tenant}.query.entities.list"

    default = _body(await dispatcher.dispatch(subject, b"{}"))
    assert len(default["data"]["items"]) == 1
    capped = _body(await dispatcher.dispatch(subject, b'{"limit": 500}'))
    assert len(capped["data"]["items"]) == 2
    assert capped["data"]["nextCursor"] is not None


@pytest.mark.integration
async def test_a_query_past_its_deadline_is_a_timeout(
    db: AsyncDatabase[Document], tenant: str
) -> None:
    await insert(db, "entities", entity(tenant, "e1"))
    dispatcher = QueryDispatcher(db, Settings(query_timeout_s=1e-6))
    reply = await dispatcher.dispatch(f"one.v1.{tenant}.query.entities.list", b"{}")
    assert _body(reply)["error"]["code"] == "timeout"
    assert reply.headers[SERVICE_ERROR_CODE_HEADER] == "408"


@pytest.mark.integration
async def test_an_unreachable_store_is_a_timeout_not_a_crash(tenant: str) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        f"mongodb://127.0.0.1:{free_port()}/?directConnection=true",
        serverSelectionTimeoutMS=200,
    )
    try:
        # The query deadline bounds server selection too (pymongo's client-side timeout).
        dispatcher = QueryDispatcher(client["one"], Settings(query_timeout_s=0.5))
        reply = await dispatcher.dispatch(f"one.v1.{tenant}.query.entities.get", b'{"id":"e1"}')
        assert _body(reply)["error"]["code"] == "timeout"
    finally:
        await client.close()


async def _broken_handler(context: QueryContext, request: EntitiesList) -> Any:
    raise RuntimeError("secret internals")


async def test_an_unexpected_failure_is_internal_and_says_nothing_more(
    monkeypatch: pytest.MonkeyPatch, database: AsyncDatabase[Document]
) -> None:
    monkeypatch.setitem(ROUTES, "broken.query", Route(EntitiesList, _broken_handler))
    reply = await QueryDispatcher(database, Settings()).dispatch(
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
    reply = await QueryDispatcher(database, Settings()).dispatch(
        "one.v1.acme.query.entities.get", json.dumps({"id": {"$gt": "s3cr3t"}}).encode()
    )
    body = _body(reply)
    assert body["error"]["code"] == "invalid_request"
    assert body["error"]["details"][0]["loc"] == ["id"]
    assert "s3cr3t" not in reply.body.decode()

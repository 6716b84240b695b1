"""Whatever a caller sends, the answer is a typed `invalid_request`, and answering goes on.

Operators where strings belong, bad limits, wrong types, forged cursors, garbage bytes,
deep JSON: each is refused before any query is built, with the NATS micro headers set.
"""

import base64
import json
from typing import Any

import pytest

from contracts.errors import SERVICE_ERROR_CODE_HEADER, SERVICE_ERROR_HEADER
from contracts.queries import QUERY_MODELS
from tests.services.query.conftest import Answer, Ask
from tests.services.query.stored import entity, insert

pytestmark = pytest.mark.integration

# A valid request of each query, to inject into field by field.
VALID: dict[str, dict[str, Any]] = {
    "entities.get": {"id": "e1", "type": "creator"},
    "entities.list": {"type": "creator", "status": "active", "orderBy": "createdAt"},
    "entities.search": {"text": "ada", "type": "creator", "status": "active", "limit": 5},
    "connections.list": {
        "fromEntityId": "e1",
        "toEntityId": "e2",
        "relationshipType": "owns",
        "protocol": "a2a",
        "messageType": "SendMessageRequest",
    },
    "events.list": {"actorId": "u1", "targetId": "e1", "type": "payment_event"},
    "tags.list": {"key": "color", "value": "red"},
    "graph.traverse": {"startId": "e1", "direction": "out", "depth": 1},
    "stats.counts": {"collection": "entities", "groupBy": "type"},
}


Document = dict[str, Any]

# Every field of every query: none of them takes an operator object.
INJECTIONS = [
    (name, field, operator)
    for name, model in QUERY_MODELS.items()
    for field in model.model_fields
    for operator in ({"$gt": ""}, {"$ne": None}, {"$regex": "^"}, {"$where": "true"})
]


def assert_invalid(answer: Answer) -> None:
    assert answer.error["code"] == "invalid_request", answer.body
    assert answer.headers[SERVICE_ERROR_CODE_HEADER] == "400"
    assert answer.headers[SERVICE_ERROR_HEADER]


def test_every_field_of_every_query_is_covered() -> None:
    covered = {(name, field) for name, field, _operator in INJECTIONS}
    fields = {(name, field) for name, model in QUERY_MODELS.items() for field in model.model_fields}
    assert covered == fields
    assert ("entities.get", "id") in covered


@pytest.mark.parametrize(
    ("name", "field", "operator"),
    INJECTIONS,
    ids=[f"{n}.{f}={next(iter(o))}" for n, f, o in INJECTIONS],
)
async def test_an_operator_in_any_field_is_an_invalid_request(
    ask: Ask, name: str, field: str, operator: Document
) -> None:
    assert_invalid(await ask(name, {**VALID[name], field: operator}))


@pytest.mark.parametrize(
    "request_",
    [
        {"metadata": {"status": {"$ne": "processed"}}},
        {"metadata": {"$where": "1"}},
        {"metadata": {"status.$": "x"}},
        {"metadata": {"a.b": "x"}},
        {"metadata": {"status": ["processed"]}},
        {"metadata": "status=processed"},
    ],
    ids=repr,
)
async def test_metadata_filters_are_plain_equalities_only(ask: Ask, request_: Document) -> None:
    assert_invalid(await ask("events.list", request_))


@pytest.mark.parametrize(
    "limit", [0, -1, -(2**63), 501, 10**6, 10**100, "10", 1.5, True, [], {"$gt": 0}], ids=repr
)
async def test_bad_limits_are_invalid_requests(ask: Ask, limit: Any) -> None:
    assert_invalid(await ask("entities.list", {"limit": limit}))


@pytest.mark.parametrize(
    ("name", "request_"),
    [
        ("entities.get", {"id": 1}),
        ("entities.get", {"ids": "e1"}),
        ("entities.get", {"ids": [f"e{n}" for n in range(101)]}),
        ("entities.list", {"createdAfter": "yesterday"}),
        ("entities.list", {"createdAfter": 1.5}),
        ("entities.list", {"includeDeleted": "yes"}),
        ("entities.list", {"type": "not_a_type"}),
        ("entities.list", {"unknown": 1}),
        ("connections.list", {"relationshipType": "owns"}),
        ("connections.list", {"fromEntityId": "e1", "withEntities": 1}),
        ("events.list", {"since": -5}),
        ("tags.list", {"entityId": "e1", "key": "k"}),
        ("graph.traverse", {"startId": "e1", "direction": "up", "depth": 1}),
        ("graph.traverse", {"startId": "e1", "direction": "out", "depth": 100}),
        ("stats.counts", {"collection": "users", "groupBy": "type"}),
        ("stats.counts", {"collection": "events", "groupBy": "metadata"}),
    ],
    ids=repr,
)
async def test_wrong_types_and_shapes_are_invalid_requests(
    ask: Ask, name: str, request_: Document
) -> None:
    assert_invalid(await ask(name, request_))


def _token(body: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "AAAA",
        "bm90IGpzb24",  # "not json"
        _token({"v": 1, "s": "0" * 32, "k": 1, "i": "x:y"}),
        _token({"v": 1, "s": "0" * 32, "k": {"$gt": 0}, "i": "x:y"}),
        _token([1, 2, 3]),
        _token("[" * 300 + "]" * 300),
        "A" * 1024,
        "A" * 1025,
        "not a cursor!",
    ],
    ids=lambda c: c[:20],
)
async def test_forged_cursors_are_invalid_requests(ask: Ask, cursor: str) -> None:
    assert_invalid(await ask("entities.list", {"cursor": cursor}))


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe\x00garbage",
        b"{not json}",
        b'{"id": "e1"',
        b"[]",
        b'"entities"',
        b"42",
        b"null",
        b"[" * 100_000,
        b'{"metadata":' + b'{"a":' * 5_000 + b"1" + b"}" * 5_001,
        b'{"id": "\\ud800"}',
        b'{"id": "e1", "id": {"$gt": ""}}',
        b"\x00" * 70_000,
    ],
    ids=lambda raw: repr(raw[:16]),
)
async def test_garbage_bytes_and_deep_json_are_invalid_requests(ask: Ask, raw: bytes) -> None:
    assert_invalid(await ask("entities.get", raw=raw))


@pytest.mark.parametrize("name", ["entities.drop", "entities", "$cmd", "entities.get.extra", "x"])
async def test_unknown_query_names_are_invalid_requests(ask: Ask, name: str) -> None:
    answer = await ask(name, {})
    assert_invalid(answer)
    assert "entities.get" in answer.error["details"]["known"]


async def test_the_responder_keeps_answering_after_hostile_input(
    ask: Ask, query_db: Any, tenant: str
) -> None:
    await insert(query_db, "entities", entity(tenant, "e1"))
    hostile: list[bytes] = [
        b"\xff" * 10,
        b"[" * 100_000,
        json.dumps({"id": {"$where": "sleep(10000)"}}).encode(),
        json.dumps({"ids": ["e1"] * 1_000}).encode(),
    ]
    for raw in hostile:
        assert_invalid(await ask("entities.get", raw=raw))
    answer = await ask("entities.get", {"id": "e1"})
    assert answer.data["id"] == "e1"

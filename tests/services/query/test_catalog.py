"""Every query in the catalog, over NATS: reply shapes, paging, tenants, errors."""

from typing import Any

import pytest

from contracts.errors import SERVICE_ERROR_CODE_HEADER, SERVICE_ERROR_HEADER
from contracts.queries import (
    QUERY_MODELS,
    QUERY_SPECS,
    REPLY_DATA,
    Counts,
    Graph,
    Items,
    OkReply,
    Page,
)
from contracts.records import EntityRecord, TagRecord
from services.query.routes import ROUTES
from tests.services.query.conftest import Answer, Ask
from tests.services.query.stored import connection, entity, event, insert, record, tag

Document = dict[str, Any]

pytestmark = pytest.mark.integration


def test_the_responder_serves_exactly_the_contract_catalog() -> None:
    assert set(ROUTES) == set(QUERY_SPECS) == set(QUERY_MODELS) == set(REPLY_DATA)
    assert all(ROUTES[name].spec is QUERY_SPECS[name] for name in ROUTES)
    assert all(ROUTES[name].model is QUERY_MODELS[name] for name in ROUTES)


def _ids(items: list[Document]) -> list[str]:
    return [item["id"] for item in items]


async def _pages(ask: Ask, name: str, request: Document) -> list[list[Document]]:
    pages: list[list[Document]] = []
    cursor = None
    while len(pages) < 50:
        answer = await ask(name, {**request, **({"cursor": cursor} if cursor else {})})
        pages.append(answer.data["items"])
        cursor = answer.data["nextCursor"]
        if cursor is None:
            return pages
    raise AssertionError("paging did not end")


async def test_entities_get_by_ids(ask: Ask, query_db: Any, tenant: str) -> None:
    await insert(query_db, "entities", entity(tenant, "a"), entity(tenant, "b", type="video"))
    answer = await ask("entities.get", {"ids": ["b", "missing", "a", "b"]})
    assert _ids(answer.data["items"]) == ["b", "a"]
    typed = await ask("entities.get", {"ids": ["a", "b"], "type": "video"})
    assert _ids(Items[EntityRecord].model_validate(typed.data).model_dump()["items"]) == ["b"]


async def test_a_missing_entity_is_not_found_with_micro_headers(ask: Ask) -> None:
    answer = await ask("entities.get", {"id": "nobody"})
    assert answer.error == {
        "code": "not_found",
        "message": "no entity 'nobody'",
        "details": {"id": "nobody"},
    }
    assert answer.headers[SERVICE_ERROR_CODE_HEADER] == "404"
    assert answer.headers[SERVICE_ERROR_HEADER] == "no entity 'nobody'"


async def test_a_good_reply_has_no_error_headers(ask: Ask, query_db: Any, tenant: str) -> None:
    await insert(query_db, "entities", entity(tenant, "a"))
    answer = await ask("entities.get", {"id": "a"})
    assert answer.body["ok"] is True
    assert SERVICE_ERROR_CODE_HEADER not in answer.headers
    assert answer.headers["content-type"] == "application/json"


async def test_entities_list_pages_newest_first(ask: Ask, query_db: Any, tenant: str) -> None:
    stored = [entity(tenant, f"e{n:02d}", created=1_000 + n % 3) for n in range(11)]
    await insert(query_db, "entities", *stored, entity(tenant, "gone", created=5_000, deleted=1))

    pages = await _pages(ask, "entities.list", {"limit": 4})
    assert [len(page) for page in pages] == [4, 4, 3]
    expected = sorted(stored, key=lambda d: (d["createdAt"], d["_id"]), reverse=True)
    assert [item for page in pages for item in page] == [record(d) for d in expected]

    with_deleted = await ask("entities.list", {"includeDeleted": True, "limit": 1})
    assert _ids(with_deleted.data["items"]) == ["gone"]


async def test_a_cursor_only_continues_the_query_it_came_from(
    ask: Ask, query_db: Any, tenant: str
) -> None:
    await insert(query_db, "entities", *(entity(tenant, f"e{n}", created=n) for n in range(3)))
    first = await ask("entities.list", {"limit": 1})
    cursor = first.data["nextCursor"]
    assert cursor is not None
    # A different page size is the same query.
    assert (await ask("entities.list", {"limit": 2, "cursor": cursor})).data["items"]
    for name, request in [
        ("entities.list", {"type": "video", "cursor": cursor}),
        ("events.list", {"cursor": cursor}),
    ]:
        refused = await ask(name, request)
        assert refused.error["code"] == "invalid_request"
        assert refused.error["details"] == [
            {
                "loc": ["cursor"],
                "msg": "cursor belongs to another query or other filters",
                "type": "invalid_cursor",
            }
        ]
    other_tenant = await ask("entities.list", {"limit": 1, "cursor": cursor}, tenant=f"{tenant}x")
    assert other_tenant.error["code"] == "invalid_request"


async def test_connections_list_pages_and_joins(ask: Ask, query_db: Any, tenant: str) -> None:
    await insert(query_db, "entities", entity(tenant, "hub"), entity(tenant, "n3"))
    await insert(
        query_db,
        "connections",
        *(connection(tenant, f"c{n}", "hub", f"n{n}", created=n) for n in range(5)),
        connection(tenant, "in", "n3", "hub", relationship="following", created=9),
    )
    pages = await _pages(
        ask, "connections.list", {"fromEntityId": "hub", "withEntities": True, "limit": 2}
    )
    items = [item for page in pages for item in page]
    assert _ids(items) == ["c4", "c3", "c2", "c1", "c0"]
    assert [item["toEntity"] and item["toEntity"]["id"] for item in items] == [
        None,
        "n3",
        None,
        None,
        None,
    ]
    assert all(item["fromEntity"]["id"] == "hub" for item in items)
    incoming = await ask("connections.list", {"toEntityId": "hub"})
    assert _ids(incoming.data["items"]) == ["in"]
    assert "fromEntity" not in incoming.data["items"][0]


async def test_events_list_pages_by_time(ask: Ask, query_db: Any, tenant: str) -> None:
    await insert(
        query_db,
        "events",
        *(event(tenant, f"v{n}", type="user_login", actor="u1", timestamp=n) for n in range(7)),
    )
    pages = await _pages(ask, "events.list", {"actorId": "u1", "since": 2, "until": 6, "limit": 3})
    assert [_ids(page) for page in pages] == [["v5", "v4", "v3"], ["v2"]]


async def test_tags_list_by_entity_and_by_key(ask: Ask, query_db: Any, tenant: str) -> None:
    await insert(
        query_db,
        "tags",
        tag(tenant, "e1", "topic", "ai"),
        tag(tenant, "e1", "lang", "en"),
        tag(tenant, "e2", "topic", "ai"),
        tag(tenant, "e3", "topic", "web", deleted=5),
    )
    by_entity = await ask("tags.list", {"entityId": "e1"})
    page = Page[TagRecord].model_validate(by_entity.data)
    assert [(t.key, t.value) for t in page.items] == [("lang", "en"), ("topic", "ai")]
    assert by_entity.data["items"][0] == {
        "groupId": tenant,
        "entityId": "e1",
        "key": "lang",
        "value": "en",
    }
    by_key = await ask("tags.list", {"key": "topic"})
    assert [t["entityId"] for t in by_key.data["items"]] == ["e1", "e2"]
    pages = await _pages(ask, "tags.list", {"key": "topic", "value": "ai", "limit": 1})
    assert [[t["entityId"] for t in page] for page in pages] == [["e1"], ["e2"]]


async def test_graph_traverse(ask: Ask, query_db: Any, tenant: str) -> None:
    await insert(query_db, "entities", *(entity(tenant, n) for n in ("a", "b", "c")))
    await insert(
        query_db,
        "connections",
        connection(tenant, "ab", "a", "b", created=1),
        connection(tenant, "bc", "b", "c", created=2),
    )
    answer = await ask("graph.traverse", {"startId": "a", "direction": "out", "depth": 2})
    graph = Graph.model_validate(answer.data)
    assert [n.id for n in graph.nodes] == ["a", "b", "c"]
    assert [e.id for e in graph.edges] == ["ab", "bc"]
    assert not graph.truncated


async def test_stats_counts(ask: Ask, query_db: Any, tenant: str) -> None:
    await insert(
        query_db,
        "events",
        *(event(tenant, f"v{n}", type="user_login", actor="u", timestamp=n) for n in range(3)),
        event(tenant, "p", type="payment_event", actor="u", timestamp=9),
    )
    answer = await ask("stats.counts", {"collection": "events", "groupBy": "type"})
    assert Counts.model_validate(answer.data).model_dump() == {
        "counts": [
            {"value": "user_login", "count": 3},
            {"value": "payment_event", "count": 1},
        ]
    }


async def test_a_tenant_sees_only_its_own_records(ask: Ask, query_db: Any, tenant: str) -> None:
    other = f"{tenant}x"
    for group in (tenant, other):
        await insert(query_db, "entities", entity(group, "shared-id", name=f"of {group}"))
        await insert(query_db, "tags", tag(group, "shared-id", "k", group))
    mine: Answer = await ask("entities.get", {"id": "shared-id"})
    theirs: Answer = await ask("entities.get", {"id": "shared-id"}, tenant=other)
    assert (mine.data["groupId"], theirs.data["groupId"]) == (tenant, other)
    assert (mine.data["name"], theirs.data["name"]) == (f"of {tenant}", f"of {other}")
    listed = await ask("entities.list", {})
    assert [e["groupId"] for e in listed.data["items"]] == [tenant]
    tags = await ask("tags.list", {"key": "k"})
    assert [t["value"] for t in tags.data["items"]] == [tenant]
    nobody = await ask("entities.list", {}, tenant=f"{tenant}y")
    assert nobody.data == {"items": [], "nextCursor": None}


async def test_replies_never_show_internal_fields(ask: Ask, query_db: Any, tenant: str) -> None:
    await insert(query_db, "entities", entity(tenant, "a"))
    await insert(query_db, "tags", tag(tenant, "a", "k", "v"))
    answers = [
        await ask("entities.get", {"id": "a"}),
        await ask("entities.list", {}),
        await ask("tags.list", {"entityId": "a"}),
        await ask("entities.search", {"text": "name"}),
    ]
    assert answers[-1].data["items"]
    for answer in answers:
        text = str(answer.body)
        assert "'_id'" not in text
        assert "'seq'" not in text
        assert "'nameTerms'" not in text


async def test_an_empty_request_means_no_parameters(ask: Ask, query_db: Any, tenant: str) -> None:
    await insert(query_db, "entities", entity(tenant, "a"))
    answer = await ask("entities.list", raw=b"")
    assert _ids(answer.data["items"]) == ["a"]


async def test_a_reply_too_large_for_nats_is_an_error_not_silence(
    ask: Ask, query_db: Any, tenant: str
) -> None:
    bulky = {"blob": "x" * 400_000}
    await insert(
        query_db, "entities", *(entity(tenant, f"big{n}", properties=bulky) for n in range(3))
    )
    answer = await ask("entities.list", {"limit": 3})
    assert answer.error["code"] == "internal"
    assert "smaller limit" in answer.error["message"]
    assert answer.headers[SERVICE_ERROR_CODE_HEADER] == "500"
    assert len((await ask("entities.list", {"limit": 1})).data["items"]) == 1


def test_reply_models_cover_single_entity_replies() -> None:
    reply = OkReply[EntityRecord].model_validate(
        {
            "ok": True,
            "data": {
                "id": "a",
                "groupId": "t",
                "type": "creator",
                "name": "A",
                "properties": {},
                "createdAt": 1,
                "updatedAt": 1,
            },
        }
    )
    assert reply.data.id == "a"

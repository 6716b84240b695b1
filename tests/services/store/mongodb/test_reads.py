"""Reads are tenant-scoped, hide soft deletes, page by keyset, and walk one index each.

The first half checks the pipelines reads build (pure); the second runs them against the
real MongoDB wire-protocol server of the session, documents inserted as docs/storage.md
lays them out.
"""

from typing import Any

import pytest

from contracts.queries import ConnectionsList, EntitiesList, EventsList, TagsList
from services.store.keys import document_id
from services.store.mongodb import reads
from services.store.mongodb.indexes import (
    CONNECTION_INDEXES,
    ENTITY_INDEXES,
    EVENT_INDEXES,
    INDEXES,
    TAG_INDEXES,
    ensure_indexes,
)
from services.store.mongodb.reads.graph import hop_pipeline
from services.store.mongodb.reads.keyset import (
    Bound,
    KeysetQuery,
    Span,
    choose_index,
    keyset_pipeline,
)
from services.store.port import Keyset, Walk
from tests.fixtures.explain import indexes_scanned
from tests.services.query.stored import connection, entity, event, insert, record, tag

Document = dict[str, Any]


def _query(**changes: Any) -> KeysetQuery:
    fields: dict[str, Any] = {
        "tenant": "acme",
        "sort": "createdAt",
        "sort_type": int,
        "equalities": {},
        "residual": {},
        "span": Span(),
        "after": None,
        "limit": 10,
    }
    return KeysetQuery(**{**fields, **changes})


# Building pipelines (pure).


@pytest.mark.parametrize(
    ("equalities", "sort", "expected"),
    [
        ({}, "createdAt", "by_created"),
        ({"type": "creator"}, "createdAt", "by_type"),
        ({"status": "active"}, "createdAt", "by_status"),
        ({"type": "creator", "status": "active"}, "createdAt", "by_type_status"),
        ({}, "updatedAt", "by_updated"),
        ({"type": "creator", "status": "active"}, "updatedAt", "by_type_updated"),
        ({"status": "active"}, "updatedAt", "by_updated"),
    ],
)
def test_the_index_pinning_the_most_equalities_is_chosen(
    equalities: Document, sort: str, expected: str
) -> None:
    assert choose_index(ENTITY_INDEXES, sort, equalities).name == expected


def test_the_first_stage_is_tenant_index_equalities_and_one_range() -> None:
    query = _query(
        equalities={"type": "creator", "name": "x"}, residual={"deletedAt": None}, limit=10
    )
    index, pipeline = keyset_pipeline(ENTITY_INDEXES, query)
    assert index.name == "by_type"
    assert pipeline == [
        {"$match": {"groupId": "acme", "type": "creator", "createdAt": {"$gt": -1}}},
        {"$match": {"name": "x", "deletedAt": None}},
        {"$sort": {"createdAt": -1, "_id": -1}},
        {"$limit": 11},
    ]


def test_integer_bounds_are_always_written_exclusive() -> None:
    # Same integers; and SecantusDB drops entries equal to an inclusive bound at the far
    # end of a compound index scan.
    since = Span(Bound(200, True), Bound(300, True))
    _index, pipeline = keyset_pipeline(EVENT_INDEXES, _query(sort="timestamp", span=since))
    assert pipeline[0]["$match"]["timestamp"] == {"$gt": 199, "$lt": 301}


def test_a_newest_first_cursor_bounds_from_above_and_skips_seen_ties() -> None:
    query = _query(after=Keyset(500, "acme:e7"))
    _index, pipeline = keyset_pipeline(ENTITY_INDEXES, query)
    assert pipeline[0]["$match"]["createdAt"] == {"$gt": -1, "$lt": 501}
    assert pipeline[1]["$match"] == {"$nor": [{"createdAt": 500, "_id": {"$gte": "acme:e7"}}]}


def test_an_ascending_cursor_bounds_from_below() -> None:
    query = _query(sort="key", sort_type=str, equalities={"entityId": "e1"})
    _index, pipeline = keyset_pipeline(TAG_INDEXES, query)
    assert pipeline[0]["$match"] == {"groupId": "acme", "entityId": "e1", "key": {"$gte": ""}}
    paged = _query(
        sort="key", sort_type=str, equalities={"entityId": "e1"}, after=Keyset("b", "acme:f")
    )
    _index, pipeline = keyset_pipeline(TAG_INDEXES, paged)
    assert pipeline[0]["$match"]["key"] == {"$gte": "b"}
    assert pipeline[1]["$match"] == {"$nor": [{"key": "b", "_id": {"$lte": "acme:f"}}]}
    assert pipeline[2] == {"$sort": {"key": 1, "_id": 1}}


def test_the_tighter_of_a_filter_bound_and_the_cursor_wins() -> None:
    before = Span(Bound(100, False), Bound(400, False))
    _index, pipeline = keyset_pipeline(
        ENTITY_INDEXES, _query(span=before, after=Keyset(500, "acme:x"))
    )
    assert pipeline[0]["$match"]["createdAt"] == {"$gt": 100, "$lt": 400}
    _index, pipeline = keyset_pipeline(
        ENTITY_INDEXES, _query(span=before, after=Keyset(300, "acme:x"))
    )
    assert pipeline[0]["$match"]["createdAt"] == {"$gt": 100, "$lt": 301}
    _index, pipeline = keyset_pipeline(
        ENTITY_INDEXES, _query(span=before, after=Keyset(400, "acme:x"))
    )
    assert pipeline[0]["$match"]["createdAt"] == {"$gt": 100, "$lt": 400}


def test_no_index_for_a_sort_is_a_programming_error() -> None:
    with pytest.raises(LookupError):
        choose_index(EVENT_INDEXES, "createdAt", {})


# Against the real server.


@pytest.fixture
async def db(database: Any) -> Any:
    await ensure_indexes(database)
    return database


def _ids(items: list[Document]) -> list[str]:
    return [item["id"] for item in items]


@pytest.mark.integration
async def test_a_tenant_never_sees_another_tenants_records(db: Any, tenant: str) -> None:
    other = f"{tenant}x"
    for group in (tenant, other):
        await insert(db, "entities", entity(group, "e1"), entity(group, "e2", type="video"))
        await insert(db, "connections", connection(group, "c1", "e1", "e2"))
        await insert(db, "events", event(group, "v1", type="user_login", actor="e1", timestamp=5))
        await insert(db, "tags", tag(group, "e1", "color", "red"))

    assert (await reads.get_entity(db, tenant, "e1") or {})["groupId"] == tenant
    found = await reads.get_entities(db, tenant, ["e1", "e2"])
    assert {e["groupId"] for e in found.values()} == {tenant}
    page = await reads.list_entities(db, tenant, EntitiesList(), after=None, limit=10)
    assert [e["groupId"] for e in page.items] == [tenant, tenant]
    connections = await reads.list_connections(
        db, tenant, ConnectionsList(fromEntityId="e1", withEntities=True), after=None, limit=10
    )
    assert [c["groupId"] for c in connections.items] == [tenant]
    assert connections.items[0]["toEntity"]["groupId"] == tenant
    events = await reads.list_events(db, tenant, EventsList(actorId="e1"), after=None, limit=10)
    assert [e["groupId"] for e in events.items] == [tenant]
    tags = await reads.list_tags(db, tenant, TagsList(entityId="e1"), after=None, limit=10)
    assert [t["groupId"] for t in tags.items] == [tenant]
    counts = await reads.count_by(db, tenant, "entities", "type")
    assert sum(row["count"] for row in counts) == 2


@pytest.mark.integration
async def test_records_come_back_without_internal_fields(db: Any, tenant: str) -> None:
    stored = entity(tenant, "e1", status="active", properties={"bio": "hi"})
    await insert(db, "entities", stored)
    assert await reads.get_entity(db, tenant, "e1") == record(stored)


@pytest.mark.integration
async def test_soft_deleted_records_are_hidden_unless_asked_for(db: Any, tenant: str) -> None:
    await insert(db, "entities", entity(tenant, "live"), entity(tenant, "gone", deleted=2_000))
    await insert(
        db,
        "connections",
        connection(tenant, "c-live", "live", "gone", created=1),
        connection(tenant, "c-gone", "live", "live", created=2, deleted=3),
    )
    await insert(
        db, "tags", tag(tenant, "live", "a", "1"), tag(tenant, "live", "b", "2", deleted=9)
    )

    assert await reads.get_entity(db, tenant, "gone") is None
    assert await reads.get_entity(db, tenant, "gone", include_deleted=True) is not None
    hidden = await reads.list_entities(db, tenant, EntitiesList(), after=None, limit=10)
    assert _ids(hidden.items) == ["live"]
    shown = await reads.list_entities(
        db, tenant, EntitiesList(includeDeleted=True), after=None, limit=10
    )
    assert sorted(_ids(shown.items)) == ["gone", "live"]

    page = await reads.list_connections(
        db, tenant, ConnectionsList(fromEntityId="live", withEntities=True), after=None, limit=10
    )
    assert _ids(page.items) == ["c-live"]
    assert page.items[0]["toEntity"] is None  # a deleted entity joins as missing
    with_deleted = await reads.list_connections(
        db,
        tenant,
        ConnectionsList(fromEntityId="live", withEntities=True, includeDeleted=True),
        after=None,
        limit=10,
    )
    assert _ids(with_deleted.items) == ["c-gone", "c-live"]
    assert with_deleted.items[1]["toEntity"]["id"] == "gone"

    tags = await reads.list_tags(db, tenant, TagsList(entityId="live"), after=None, limit=10)
    assert [t["key"] for t in tags.items] == ["a"]


async def _all_pages(read: Any, limit: int) -> list[Document]:
    items: list[Document] = []
    after = None
    for _ in range(100):
        page = await read(after, limit)
        items += page.items
        assert len(page.items) <= limit
        if page.next is None:
            return items
        after = page.next
    raise AssertionError("paging did not end")


@pytest.mark.integration
@pytest.mark.parametrize("limit", [1, 3, 4, 50])
async def test_pages_return_every_record_once_newest_first_across_ties(
    db: Any, tenant: str, limit: int
) -> None:
    # 13 entities over 4 distinct creation times: pages must split ties correctly.
    stored = [entity(tenant, f"e{n:02d}", created=1_000 + n % 4) for n in range(13)]
    await insert(db, "entities", *stored)

    async def read(after: Keyset | None, size: int) -> Any:
        return await reads.list_entities(db, tenant, EntitiesList(), after=after, limit=size)

    expected = sorted(stored, key=lambda d: (d["createdAt"], d["_id"]), reverse=True)
    assert _ids(await _all_pages(read, limit)) == _ids(expected)


@pytest.mark.integration
async def test_tag_pages_are_in_key_order(db: Any, tenant: str) -> None:
    stored = [tag(tenant, "e1", f"k{n % 3}", f"v{n}") for n in range(8)]
    await insert(db, "tags", *stored, tag(tenant, "e2", "k0", "other"))

    async def read(after: Keyset | None, size: int) -> Any:
        return await reads.list_tags(db, tenant, TagsList(entityId="e1"), after=after, limit=size)

    items = await _all_pages(read, 3)
    expected = sorted(stored, key=lambda d: (d["key"], d["_id"]))
    assert [(t["key"], t["value"]) for t in items] == [(d["key"], d["value"]) for d in expected]

    by_key = await reads.list_tags(db, tenant, TagsList(key="k0"), after=None, limit=10)
    assert [t["entityId"] for t in by_key.items] == ["e1", "e1", "e1", "e2"]
    by_value = await reads.list_tags(
        db, tenant, TagsList(key="k0", value="other"), after=None, limit=10
    )
    assert [t["entityId"] for t in by_value.items] == ["e2"]


@pytest.mark.integration
async def test_entity_filters(db: Any, tenant: str) -> None:
    await insert(
        db,
        "entities",
        entity(
            tenant,
            "a",
            type="creator",
            status="active",
            created=10,
            updated=50,
            properties={"level": "pro", "n": 5},
        ),
        entity(tenant, "b", type="creator", status="draft", created=20, updated=20),
        entity(
            tenant,
            "c",
            type="video",
            status="active",
            created=30,
            updated=40,
            properties={"level": "pro", "n": "5"},
        ),
        entity(tenant, "d", type="creator", created=40, updated=45),
    )

    async def listed(**fields: Any) -> list[str]:
        page = await reads.list_entities(db, tenant, EntitiesList(**fields), after=None, limit=10)
        return _ids(page.items)

    assert await listed(type="creator") == ["d", "b", "a"]
    assert await listed(status="active") == ["c", "a"]
    assert await listed(type="creator", status="active") == ["a"]
    assert await listed(createdAfter=10, createdBefore=40) == ["c", "b"]
    assert await listed(updatedAfter=40) == ["d", "a"]
    assert await listed(orderBy="updatedAt") == ["a", "d", "c", "b"]
    assert await listed(orderBy="updatedAt", updatedAfter=40, createdBefore=40) == ["a"]
    assert await listed(properties={"level": "pro"}) == ["c", "a"]
    assert await listed(properties={"level": "pro", "n": 5}) == ["a"]  # types compare exactly
    assert await listed(type="video", properties={"n": "5"}) == ["c"]
    assert await listed(properties={"level": "beginner"}) == []


@pytest.mark.integration
async def test_bounds_include_their_edges(db: Any, tenant: str) -> None:
    await insert(
        db,
        "events",
        *(event(tenant, f"v{at}", type="user_login", actor="u", timestamp=at) for at in (0, 1, 2)),
    )
    everything = await reads.list_events(db, tenant, EventsList(), after=None, limit=10)
    assert _ids(everything.items) == ["v2", "v1", "v0"]
    since_one = await reads.list_events(db, tenant, EventsList(since=1), after=None, limit=10)
    assert _ids(since_one.items) == ["v2", "v1"]


@pytest.mark.integration
async def test_get_entities_by_ids_and_type(db: Any, tenant: str) -> None:
    await insert(db, "entities", entity(tenant, "c1"), entity(tenant, "v1", type="video"))
    assert await reads.get_entity(db, tenant, "c1", entity_type="creator") is not None
    assert await reads.get_entity(db, tenant, "v1", entity_type="creator") is None
    found = await reads.get_entities(db, tenant, ["v1", "missing", "c1", "v1"])
    assert sorted(found) == ["c1", "v1"]


@pytest.mark.integration
async def test_events_by_actor_type_time_and_metadata(db: Any, tenant: str) -> None:
    def payment(event_id: str, at: int, status: str, actor: str = "u1") -> Document:
        return event(
            tenant,
            event_id,
            type="payment_event",
            actor=actor,
            timestamp=at,
            metadata={"status": status, "protocol": "x402", "amount": at},
        )

    await insert(
        db,
        "events",
        payment("p1", 100, "processed"),
        payment("p2", 200, "requested"),
        payment("p3", 300, "processed"),
        payment("p4", 400, "processed", actor="u2"),
        event(tenant, "l1", type="user_login", actor="u1", timestamp=350, target="app"),
    )

    async def listed(**fields: Any) -> list[str]:
        page = await reads.list_events(db, tenant, EventsList(**fields), after=None, limit=10)
        return _ids(page.items)

    processed = {"status": "processed"}
    assert await listed(actorId="u1", type="payment_event", metadata=processed) == ["p3", "p1"]
    assert await listed(actorId="u1") == ["l1", "p3", "p2", "p1"]
    assert await listed(type="payment_event", since=200, until=400) == ["p3", "p2"]
    assert await listed(metadata={"status": "processed", "amount": 300}) == ["p3"]
    assert await listed(metadata={"amount": "300"}) == []  # types are compared exactly
    assert await listed(targetId="app") == ["l1"]


@pytest.mark.integration
async def test_connection_filters_and_joins(db: Any, tenant: str) -> None:
    await insert(
        db, "entities", entity(tenant, "creator"), entity(tenant, "post", type="blog_post")
    )
    await insert(
        db,
        "connections",
        connection(tenant, "c1", "creator", "post", created=1),
        connection(tenant, "c2", "creator", "later", created=2),
        connection(tenant, "c3", "creator", "post", relationship="authored", created=3),
        connection(
            tenant,
            "c4",
            "agent",
            "creator",
            relationship="communicated",
            created=4,
            metadata={"protocol": "a2a", "messageType": "task"},
        ),
    )

    async def listed(**fields: Any) -> list[Document]:
        page = await reads.list_connections(
            db, tenant, ConnectionsList(**fields), after=None, limit=10
        )
        return page.items

    owned = await listed(fromEntityId="creator", relationshipType="owns", withEntities=True)
    assert _ids(owned) == ["c2", "c1"]
    assert owned[0]["toEntity"] is None  # "later" has not arrived: eventually consistent
    assert owned[1]["toEntity"]["id"] == "post"
    assert owned[1]["fromEntity"]["id"] == "creator"
    assert _ids(await listed(fromEntityId="creator", toEntityId="post")) == ["c3", "c1"]
    assert _ids(await listed(toEntityId="creator", protocol="a2a")) == ["c4"]
    assert _ids(await listed(toEntityId="creator", protocol="acp")) == []
    assert _ids(await listed(toEntityId="creator", protocol="A2A")) == ["c4"]  # stored lower
    by_message = await listed(toEntityId="creator", protocol="a2a", messageType="task")
    assert _ids(by_message) == ["c4"]
    assert _ids(await listed(toEntityId="creator", messageType="message")) == []
    assert "fromEntity" not in (await listed(fromEntityId="creator"))[0]


@pytest.mark.integration
async def test_graph_walks_are_bounded(db: Any, tenant: str) -> None:
    # a → b → c → d, and e → a
    await insert(db, "entities", *(entity(tenant, n) for n in "abcde"))
    await insert(
        db,
        "connections",
        connection(tenant, "ab", "a", "b", created=1),
        connection(tenant, "bc", "b", "c", created=2),
        connection(tenant, "cd", "c", "d", created=3, relationship="references"),
        connection(tenant, "ea", "e", "a", created=4),
    )

    async def walk(**options: Any) -> Walk:
        fields: dict[str, Any] = {
            "direction": "out",
            "relationship_types": None,
            "depth": 1,
            "limit": 50,
        }
        return await reads.traverse(db, tenant, "a", **{**fields, **options})

    one_hop = await walk()
    assert (_ids(one_hop.nodes), _ids(one_hop.edges), one_hop.truncated) == (
        ["a", "b"],
        ["ab"],
        False,
    )
    deep = await walk(depth=3)
    assert _ids(deep.edges) == ["ab", "bc", "cd"]
    assert _ids(deep.nodes) == ["a", "b", "c", "d"]
    owns_only = await walk(depth=3, relationship_types=["owns"])
    assert _ids(owns_only.edges) == ["ab", "bc"]
    both = await walk(direction="both", depth=1)
    assert sorted(_ids(both.edges)) == ["ab", "ea"]
    upstream = await walk(direction="in", depth=3)
    assert _ids(upstream.edges) == ["ea"]
    cut = await walk(depth=3, limit=2)
    assert (_ids(cut.edges), cut.truncated) == (["ab", "bc"], True)
    assert _ids(cut.nodes) == ["a", "b", "c"]


@pytest.mark.integration
async def test_counts_group_live_records(db: Any, tenant: str) -> None:
    await insert(
        db,
        "entities",
        entity(tenant, "a", type="creator", status="active"),
        entity(tenant, "b", type="creator"),
        entity(tenant, "c", type="video", status="active"),
        entity(tenant, "d", type="video", deleted=5),
        entity(f"{tenant}x", "a", type="video"),
    )
    by_type = await reads.count_by(db, tenant, "entities", "type")
    assert by_type == [{"value": "creator", "count": 2}, {"value": "video", "count": 1}]
    by_status = await reads.count_by(db, tenant, "entities", "status")
    assert by_status == [{"value": "active", "count": 2}, {"value": None, "count": 1}]
    with_deleted = await reads.count_by(db, tenant, "entities", "type", include_deleted=True)
    assert with_deleted == [{"value": "creator", "count": 2}, {"value": "video", "count": 2}]
    with pytest.raises(ValueError, match="cannot be grouped"):
        await reads.count_by(db, tenant, "entities", "name")


# Every list shape walks the index declared for it.


SHAPES: list[tuple[str, str, Document, str, type[int] | type[str]]] = [
    ("entities", "createdAt", {}, "by_created", int),
    ("entities", "createdAt", {"type": "creator"}, "by_type", int),
    ("entities", "createdAt", {"status": "active"}, "by_status", int),
    ("entities", "createdAt", {"type": "creator", "status": "active"}, "by_type_status", int),
    ("entities", "updatedAt", {}, "by_updated", int),
    ("entities", "updatedAt", {"type": "creator"}, "by_type_updated", int),
    ("connections", "createdAt", {"fromEntityId": "e1"}, "from_entity", int),
    ("connections", "createdAt", {"toEntityId": "e1"}, "to_entity", int),
    (
        "connections",
        "createdAt",
        {"fromEntityId": "e1", "relationshipType": "owns"},
        "from_type",
        int,
    ),
    ("connections", "createdAt", {"toEntityId": "e1", "relationshipType": "owns"}, "to_type", int),
    (
        "connections",
        "createdAt",
        {"fromEntityId": "e1", "toEntityId": "e2", "relationshipType": "owns"},
        "bidirectional",
        int,
    ),
    ("events", "timestamp", {}, "by_timestamp", int),
    ("events", "timestamp", {"type": "payment_event"}, "by_type", int),
    ("events", "timestamp", {"actorId": "u1"}, "by_actor", int),
    ("events", "timestamp", {"targetId": "u1"}, "by_target", int),
    ("events", "timestamp", {"actorId": "u1", "type": "payment_event"}, "by_actor_type", int),
    ("events", "timestamp", {"targetId": "u1", "type": "payment_event"}, "by_target_type", int),
    ("events", "timestamp", {"refs": "taskId=t1"}, "by_ref", int),
    ("tags", "key", {"entityId": "e1"}, "by_entity", str),
    ("tags", "entityId", {"key": "color"}, "by_key", str),
    ("tags", "entityId", {"key": "color", "value": "red"}, "by_key_value", str),
]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("collection", "sort", "equalities", "index", "sort_type"),
    SHAPES,
    ids=[f"{shape[0]}.{shape[3]}" for shape in SHAPES],
)
@pytest.mark.parametrize("paged", [False, True], ids=["first-page", "next-page"])
async def test_each_list_shape_scans_its_index(
    db: Any,
    tenant: str,
    collection: str,
    sort: str,
    equalities: Document,
    index: str,
    sort_type: type[int] | type[str],
    paged: bool,
) -> None:
    after = Keyset(5 if sort_type is int else "m", document_id(tenant, "x")) if paged else None
    query = _query(
        tenant=tenant,
        sort=sort,
        sort_type=sort_type,
        equalities=equalities,
        # What reads add beyond the index: soft deletes and a metadata filter.
        residual={"deletedAt": None, "metadata.status": "processed"},
        after=after,
    )
    chosen, pipeline = keyset_pipeline(INDEXES[collection], query)
    assert chosen.name == index
    explained = await db.command(
        "explain",
        {"aggregate": collection, "pipeline": pipeline, "cursor": {}},
        verbosity="queryPlanner",
    )
    assert indexes_scanned(explained) == {index}


@pytest.mark.integration
async def test_lookups_by_id_use_the_id_index(db: Any, tenant: str) -> None:
    pipeline = [
        {"$match": {"_id": {"$in": [document_id(tenant, "e1"), document_id(tenant, "e2")]}}},
        {"$match": {"groupId": tenant, "deletedAt": None}},
    ]
    explained = await db.command(
        "explain",
        {"aggregate": "entities", "pipeline": pipeline, "cursor": {}},
        verbosity="queryPlanner",
    )
    assert indexes_scanned(explained) == {"_id_"}


def test_every_declared_index_is_exercised_by_a_list_shape() -> None:
    declared = {(c, i.name) for c, indexes in INDEXES.items() for i in indexes}
    exercised = {(shape[0], shape[3]) for shape in SHAPES}
    # The seed's by_created on connections is kept for operators; no list sorts by it alone.
    assert declared - exercised == {("connections", "by_created")}
    assert CONNECTION_INDEXES[-1].name == "by_created"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("side", "index"), [("fromEntityId", "from_entity"), ("toEntityId", "to_entity")]
)
async def test_each_graph_hop_scans_the_side_index(
    db: Any, tenant: str, side: str, index: str
) -> None:
    pipeline = hop_pipeline(tenant, side, ["a", "b"], ["owns"], taken={"x"}, room=10)
    explained = await db.command(
        "explain",
        {"aggregate": "connections", "pipeline": pipeline, "cursor": {}},
        verbosity="queryPlanner",
    )
    assert indexes_scanned(explained) == {index}

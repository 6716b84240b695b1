"""The index of watches and the matcher (pure): a change finds the watches it can affect,
and only those."""

from typing import Any

from contracts.queries import (
    ConnectionsList,
    EntitiesGet,
    EntitiesList,
    EntitiesSearch,
    EventsList,
    Query,
    TagsList,
)
from services.watch.evaluator import query_key
from services.watch.matcher import may_enter, page_edge, result_keys
from services.watch.registry import Registry, Watched


def watched(watch_id: str, name: str, request: Query, tenant: str = "acme") -> Watched:
    return Watched(watch_id, tenant, name, request, "_INBOX.x", query_key(tenant, name, request))


def entity(**fields: Any) -> dict[str, Any]:
    return {"id": "e1", "groupId": "acme", "type": "creator", "name": "Ada", "properties": {},
            "createdAt": 10, "updatedAt": 10, **fields}  # fmt: skip


def test_a_change_finds_only_the_watches_of_its_tenant_collection_and_equalities() -> None:
    registry = Registry()
    registry.add(watched("creators", "entities.list", EntitiesList(type="creator")))
    registry.add(watched("posts", "entities.list", EntitiesList(type="blog_post")))
    registry.add(watched("other", "entities.list", EntitiesList(type="creator"), tenant="globex"))
    registry.add(watched("events", "events.list", EventsList(actorId="e1")))
    registry.add(watched("all", "entities.list", EntitiesList()))
    assert registry.candidates("acme", "entities", entity()) == {"creators", "all"}
    assert registry.candidates("acme", "entities", entity(type="blog_post")) == {"posts", "all"}
    assert registry.candidates("initech", "entities", entity()) == set()
    assert registry.candidates("acme", "events", {"id": "v", "actorId": "e1"}) == {"events"}


def test_a_record_that_leaves_the_filters_is_found_through_the_last_result() -> None:
    registry = Registry()
    request = EntitiesList(status="active")
    watch = watched("active", "entities.list", request)
    registry.add(watch)
    result = {"items": [entity(status="active")], "nextCursor": None}
    registry.set_result(watch, result_keys("entities.list", request, result), None)
    # Archived: no longer passes the filter, but it was shown, so the result changes.
    assert registry.candidates("acme", "entities", entity(status="archived")) == {"active"}
    assert registry.candidates("acme", "entities", entity(id="e2", status="archived")) == set()
    registry.remove("active")
    assert registry.candidates("acme", "entities", entity(status="active")) == set()


def test_a_partial_connection_delete_is_found_through_the_last_result() -> None:
    registry = Registry()
    request = ConnectionsList(fromEntityId="ada", withEntities=True)
    watch = watched("owned", "connections.list", request)
    registry.add(watch)
    item = {"id": "c1", "fromEntityId": "ada", "toEntityId": "post", "createdAt": 1}
    registry.set_result(watch, result_keys("connections.list", request, {"items": [item]}), None)
    deleted = {"id": "c1", "groupId": "acme", "relationshipType": "owns", "deletedAt": 5}
    assert registry.candidates("acme", "connections", deleted) == {"owned"}
    # The embedded entity, even before it arrived.
    assert registry.candidates("acme", "entities", entity(id="post")) == {"owned"}
    assert registry.candidates("acme", "entities", entity(id="unrelated")) == set()


def test_entities_get_is_indexed_by_every_id() -> None:
    registry = Registry()
    registry.add(watched("many", "entities.get", EntitiesGet(ids=["a", "b"])))
    assert registry.candidates("acme", "entities", entity(id="b", type="blog_post")) == {"many"}
    assert registry.candidates("acme", "entities", entity(id="c")) == set()


def test_may_enter_checks_the_rest_of_the_filters() -> None:
    listing = EntitiesList(type="creator", properties={"level": "pro"}, createdAfter=5)
    assert may_enter("entities.list", listing, entity(properties={"level": "pro"}))
    assert not may_enter("entities.list", listing, entity(properties={"level": "new"}))
    assert not may_enter("entities.list", listing, entity(properties={"level": "pro"}, createdAt=5))
    assert not may_enter("entities.list", listing, entity(properties={"level": "pro"}, deletedAt=9))
    # An array may hold the value (MongoDB equality): a "maybe", never a miss.
    assert may_enter("entities.list", listing, entity(properties={"level": ["pro", "x"]}))

    events = EventsList(type="payment_event", metadata={"status": "processed"}, since=10, until=20)
    event = {"id": "v", "type": "payment_event", "actorId": "u", "timestamp": 10,
             "metadata": {"status": "processed"}}  # fmt: skip
    assert may_enter("events.list", events, event)
    assert not may_enter("events.list", events, {**event, "timestamp": 20})
    assert not may_enter("events.list", events, {**event, "metadata": {"status": "requested"}})

    search = EntitiesSearch(text="ada lov")
    assert may_enter("entities.search", search, entity(name="Ada Lovelace"))
    assert not may_enter("entities.search", search, entity(name="Ada Byron"))
    tags = TagsList(key="topic", value="ai")
    assert may_enter("tags.list", tags, {"entityId": "e", "key": "topic", "value": "ai"})
    assert not may_enter("tags.list", tags, {"entityId": "e", "key": "topic", "value": "ai",
                                             "deletedAt": 1})  # fmt: skip


def test_a_record_sorting_after_a_full_first_page_cannot_enter_it() -> None:
    request = EventsList(actorId="u", limit=1)
    result = {"items": [{"id": "v2", "timestamp": 50}], "nextCursor": "abc"}
    edge = page_edge("events.list", request, result)
    assert edge is not None
    older = {"id": "v1", "actorId": "u", "timestamp": 40, "metadata": {}}
    assert not may_enter("events.list", request, older, edge)
    assert may_enter("events.list", request, {**older, "timestamp": 50}, edge)
    assert page_edge("events.list", request, {**result, "nextCursor": None}) is None


def test_a_corrupt_record_is_a_maybe() -> None:
    listing = EntitiesList(createdAfter=5)
    assert may_enter("entities.list", listing, {"createdAt": "soon", "deletedAt": None})


def test_a_change_during_a_read_is_checked_against_the_new_result() -> None:
    """`affects` judges one watch as it now stands (its new result keys and page end)."""
    request = EntitiesList(type="creator", limit=1)
    watch = watched("w", "entities.list", request)
    registry = Registry()
    registry.add(watch)
    new = {"items": [entity(id="c", createdAt=80)], "nextCursor": "more"}
    registry.set_result(watch, result_keys("entities.list", request, new), page_edge(
        "entities.list", request, new))  # fmt: skip
    # Deleted while the read ran: it is in the new result, so the result is stale.
    assert Registry.affects(watch, "entities", entity(id="c", createdAt=80, deletedAt=5))
    # Newer than the page's end: it enters.
    assert Registry.affects(watch, "entities", entity(id="d", createdAt=85))
    # Older than a full page's end, or of another type: it cannot.
    assert not Registry.affects(watch, "entities", entity(id="e", createdAt=70))
    assert not Registry.affects(watch, "entities", entity(id="f", type="blog_post", createdAt=99))

"""The store port's specification: one suite every adapter's tests inherit.

A subclass gives the `port` fixture (its adapter's reads and writes, empty); every test
here writes through the port's writes, as ingest does, and reads through its reads, as
the query and watch sides do. Run against MongoDB and against the in-memory store, it
holds both to the same answers, and so the query specs' predicates (which the in-memory
store and the watch matcher use) to what MongoDB's filters return.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from contracts.commands import (
    AnyCommand,
    ConnectionCreate,
    ConnectionDelete,
    EntityArchive,
    EntityDelete,
    EntityUpsert,
    EventPublish,
    TagDelete,
    TagSet,
)
from contracts.queries import (
    CONNECTIONS_LIST,
    ENTITIES_LIST,
    EVENTS_LIST,
    TAGS_LIST,
    ConnectionsList,
    EntitiesList,
    EntitiesSearch,
    EventsList,
    QuerySpec,
    TagsList,
)
from services.store.errors import StoreTimeoutError
from services.store.port import (
    BatchOutcome,
    Document,
    Keyset,
    StoreReads,
    StoreWrites,
    TenantRecords,
)
from services.store.write_request import WriteRequest

T = "acme"
OTHER = "globex"


def soon() -> float:
    return asyncio.get_running_loop().time() + 30


def _subject_type(command: AnyCommand) -> str | None:
    for name in ("type", "relationshipType"):
        value = getattr(command, name, None)
        if isinstance(value, str):
            return value
    return None


@dataclass
class Port:
    reads: StoreReads
    writes: StoreWrites
    records: TenantRecords
    seq: int = 0
    received_ms: int = 1_000

    def requests(
        self, *commands: AnyCommand, tenant: str = T, subject_type: str | None = None
    ) -> list[WriteRequest]:
        """`commands` as write requests, in stream order (each the next sequence)."""
        batch = []
        for command in commands:
            self.seq += 1
            batch.append(
                WriteRequest(
                    tenant,
                    subject_type or _subject_type(command),
                    command,
                    seq=self.seq,
                    received_ms=self.received_ms,
                )
            )
        return batch

    async def write(
        self, *commands: AnyCommand, tenant: str = T, subject_type: str | None = None
    ) -> BatchOutcome:
        """One batch of `commands`, in stream order."""
        return await self.writes.write(
            self.requests(*commands, tenant=tenant, subject_type=subject_type)
        )

    async def pages(self, spec: QuerySpec[Any], request: Any, limit: int) -> list[list[str]]:
        """Every page of a keyset list, as lists of ids (or tag entity ids/keys)."""
        pages: list[list[str]] = []
        after: Keyset | None = None
        while len(pages) < 100:
            page = await self.reads.list_page(
                spec, T, request, after=after, limit=limit, deadline=soon()
            )
            pages.append([_label(item) for item in page.items])
            if page.next is None:
                return pages
            after = page.next
        raise AssertionError("paging did not end")


def _label(item: Document) -> str:
    return str(item.get("id") or f"{item['entityId']}/{item['key']}={item['value']}")


def upsert(entity_id: str, at: int, **fields: Any) -> EntityUpsert:
    values: dict[str, Any] = {"type": "creator", "name": entity_id, "actorId": "a"}
    values.update(fields)
    return EntityUpsert(id=entity_id, updatedAt=at, **values)


def connect(
    connection_id: str, source: str, target: str, at: int, **fields: Any
) -> ConnectionCreate:
    values: dict[str, Any] = {"relationshipType": "owns"}
    values.update(fields)
    return ConnectionCreate(
        id=connection_id, fromEntityId=source, toEntityId=target, createdAt=at, **values
    )


def event(event_id: str, at: int, **fields: Any) -> EventPublish:
    values: dict[str, Any] = {"type": "user_login", "actorId": "u1", "metadata": {}}
    values.update(fields)
    return EventPublish(id=event_id, timestamp=at, **values)


def ids(items: Sequence[Document]) -> list[str]:
    return [item["id"] for item in items]


class StorePortSuite:
    """Inherited by each adapter's `Test…` class, which provides `port`."""

    @pytest.fixture
    def port(self) -> Port:
        raise NotImplementedError("each adapter's test class provides its port")

    # Entities.

    async def test_entities_are_got_by_id_within_their_tenant(self, port: Port) -> None:
        await port.write(upsert("e1", 10), upsert("e2", 11, type="organization"))
        await port.write(upsert("e1", 10, name="theirs"), tenant=OTHER)
        found = await port.reads.get_entities(T, ["e1", "e2", "nope"], deadline=soon())
        assert set(found) == {"e1", "e2"}
        assert found["e1"]["name"] == "e1"
        assert found["e1"]["groupId"] == T
        assert "_id" not in found["e1"]
        assert "nameTerms" not in found["e1"]
        typed = await port.reads.get_entities(
            T, ["e1", "e2"], entity_type="creator", deadline=soon()
        )
        assert set(typed) == {"e1"}

    async def test_a_deleted_entity_is_found_only_when_asked_for(self, port: Port) -> None:
        await port.write(upsert("e1", 10), EntityDelete(id="e1", updatedAt=20, actorId="a"))
        assert await port.reads.get_entities(T, ["e1"], deadline=soon()) == {}
        found = await port.reads.get_entities(T, ["e1"], include_deleted=True, deadline=soon())
        assert found["e1"]["deletedAt"] == 20

    async def test_the_newest_upsert_wins_whatever_the_order_of_batches(self, port: Port) -> None:
        await port.write(upsert("e1", 20, name="newer"))
        outcome = await port.write(upsert("e1", 10, name="older"))
        found = await port.reads.get_entities(T, ["e1"], deadline=soon())
        assert found["e1"]["name"] == "newer"
        assert found["e1"]["createdAt"] == 10
        assert [r.effect for r in outcome.records.values()] == ["unchanged"]

    async def test_entities_list_filters_and_pages_newest_first(self, port: Port) -> None:
        await port.write(
            *(
                upsert(f"e{n}", 100 + n % 4, status="active" if n % 2 else "draft")
                for n in range(10)
            ),
            upsert("org", 50, type="organization", properties={"level": "beginner"}),
        )
        every = await port.pages(ENTITIES_LIST, EntitiesList(), limit=3)
        flat = [i for page in every for i in page]
        assert [len(page) for page in every] == [3, 3, 3, 2]
        # createdAt descending, ties by `_id` descending.
        assert flat == ["e7", "e3", "e6", "e2", "e9", "e5", "e1", "e8", "e4", "e0", "org"]
        active = await port.pages(
            ENTITIES_LIST, EntitiesList(type="creator", status="active"), limit=10
        )
        assert active == [["e7", "e3", "e9", "e5", "e1"]]
        window = EntitiesList(createdAfter=100, createdBefore=103)
        assert await port.pages(ENTITIES_LIST, window, limit=10) == [["e6", "e2", "e9", "e5", "e1"]]
        level = EntitiesList(properties={"level": "beginner"})
        assert await port.pages(ENTITIES_LIST, level, limit=10) == [["org"]]
        assert await port.pages(
            ENTITIES_LIST, EntitiesList(properties={"level": "expert"}), limit=10
        ) == [[]]

    async def test_entities_list_by_update_time(self, port: Port) -> None:
        await port.write(upsert("a", 10), upsert("b", 20), upsert("c", 30))
        await port.write(upsert("a", 40, name="again"))
        by_update = EntitiesList(orderBy="updatedAt", updatedAfter=15)
        assert await port.pages(ENTITIES_LIST, by_update, limit=10) == [["a", "c", "b"]]
        created = EntitiesList(updatedAfter=15)
        assert await port.pages(ENTITIES_LIST, created, limit=10) == [["c", "b", "a"]]

    async def test_entities_list_hides_deleted_unless_asked(self, port: Port) -> None:
        await port.write(
            upsert("a", 10), upsert("b", 20), EntityDelete(id="b", updatedAt=30, actorId="x")
        )
        assert await port.pages(ENTITIES_LIST, EntitiesList(), limit=10) == [["a"]]
        every = EntitiesList(includeDeleted=True)
        assert await port.pages(ENTITIES_LIST, every, limit=10) == [["b", "a"]]

    async def test_archived_entities_have_the_archived_status(self, port: Port) -> None:
        await port.write(
            upsert("a", 10, status="active"), EntityArchive(id="a", updatedAt=20, actorId="x")
        )
        archived = EntitiesList(status="archived")
        assert await port.pages(ENTITIES_LIST, archived, limit=10) == [["a"]]

    async def test_search_finds_every_word_as_a_word_or_prefix_ranked(self, port: Port) -> None:
        await port.write(
            upsert("ada", 10, name="Ada Lovelace"),
            upsert("adam", 20, name="Adam Smith"),
            upsert("lov", 30, name="Lovelace Ada"),
            upsert("org", 40, name="Ada Labs", type="organization"),
            upsert("gone", 50, name="Ada Gone"),
            EntityDelete(id="gone", updatedAt=60, actorId="x"),
        )

        async def search(text: str, **filters: Any) -> list[str]:
            request = EntitiesSearch(text=text, **filters)
            return ids(await port.reads.search_entities(T, request, limit=10, deadline=soon()))

        # Whole-word matches first, then the newest.
        assert await search("ada") == ["org", "lov", "ada", "adam"]
        assert await search("ada love") == ["lov", "ada"]
        assert await search("ADA", type="creator") == ["lov", "ada", "adam"]
        assert await search("smith") == ["adam"]
        assert await search("zed") == []

    # Connections.

    async def test_connections_list_from_or_to_an_entity(self, port: Port) -> None:
        await port.write(
            upsert("a", 1),
            upsert("b", 2),
            connect("c1", "a", "b", 10),
            connect("c2", "a", "x", 20, relationshipType="created_by"),
            connect("c3", "b", "a", 30, metadata={"protocol": "a2a", "messageType": "Send"}),
        )
        read = CONNECTIONS_LIST
        assert await port.pages(read, ConnectionsList(fromEntityId="a"), limit=1) == [
            ["c2"],
            ["c1"],
        ]
        assert await port.pages(read, ConnectionsList(toEntityId="a"), limit=5) == [["c3"]]
        typed = ConnectionsList(fromEntityId="a", relationshipType="owns")
        assert await port.pages(read, typed, limit=5) == [["c1"]]
        protocol = ConnectionsList(fromEntityId="b", protocol="A2A", messageType="Send")
        assert await port.pages(read, protocol, limit=5) == [["c3"]]
        assert await port.pages(
            read, ConnectionsList(fromEntityId="b", protocol="ap2"), limit=5
        ) == [[]]

    async def test_connections_carry_their_entities_when_asked(self, port: Port) -> None:
        await port.write(upsert("a", 1), connect("c1", "a", "later", 10))
        page = await port.reads.list_page(
            CONNECTIONS_LIST,
            T,
            ConnectionsList(fromEntityId="a", withEntities=True),
            after=None,
            limit=5,
            deadline=soon(),
        )
        [item] = page.items
        assert item["fromEntity"]["id"] == "a"
        assert item["toEntity"] is None

    async def test_a_delete_arriving_before_its_create_leaves_the_connection_deleted(
        self, port: Port
    ) -> None:
        deleted = await port.write(ConnectionDelete(id="c1", updatedAt=50), subject_type="owns")
        created = await port.write(connect("c1", "a", "b", 10))
        read = CONNECTIONS_LIST
        assert await port.pages(read, ConnectionsList(fromEntityId="a"), limit=5) == [[]]
        every = ConnectionsList(fromEntityId="a", includeDeleted=True)
        assert await port.pages(read, every, limit=5) == [["c1"]]
        assert [r.effect for r in deleted.records.values()] == ["deleted"]
        assert [r.effect for r in created.records.values()] == ["created"]
        [change] = deleted.changes
        assert change.op == "delete"
        assert change.document["deletedAt"] == 50

    async def test_a_repeated_create_is_a_duplicate(self, port: Port) -> None:
        await port.write(connect("c1", "a", "b", 10))
        again = await port.write(connect("c1", "a", "z", 20))
        assert [r.effect for r in again.records.values()] == ["duplicate"]
        assert again.changes == []
        page = await port.reads.list_page(
            CONNECTIONS_LIST,
            T,
            ConnectionsList(fromEntityId="a"),
            after=None,
            limit=5,
            deadline=soon(),
        )
        assert page.items[0]["toEntityId"] == "b"

    async def test_a_delete_change_carries_the_stored_connection(self, port: Port) -> None:
        await port.write(connect("c1", "a", "b", 10, relationshipType="created_by"))
        outcome = await port.write(ConnectionDelete(id="c1", updatedAt=70), subject_type="owns")
        [change] = outcome.changes
        assert change.type_token == "created_by"
        assert change.document["toEntityId"] == "b"

    # Events.

    async def test_events_list_filters_by_actor_target_type_time_and_metadata(
        self, port: Port
    ) -> None:
        await port.write(
            event("v1", 10),
            event("v2", 20, actorId="u2", targetId="t1"),
            event("v3", 30, type="user_logout", metadata={"taskId": "k1", "status": "ok"}),
            event("v4", 40, metadata={"taskId": "k2"}),
        )
        read = EVENTS_LIST
        assert await port.pages(read, EventsList(actorId="u1"), limit=2) == [["v4", "v3"], ["v1"]]
        assert await port.pages(read, EventsList(targetId="t1"), limit=5) == [["v2"]]
        assert await port.pages(read, EventsList(type="user_logout"), limit=5) == [["v3"]]
        assert await port.pages(read, EventsList(since=20, until=40), limit=5) == [["v3", "v2"]]
        assert await port.pages(read, EventsList(metadata={"taskId": "k1"}), limit=5) == [["v3"]]
        both = EventsList(metadata={"taskId": "k1", "status": "no"})
        assert await port.pages(read, both, limit=5) == [[]]

    async def test_an_event_is_stored_once(self, port: Port) -> None:
        first = await port.write(event("v1", 10))
        again = await port.write(event("v1", 99, actorId="u9"))
        assert [r.effect for r in first.records.values()] == ["created"]
        assert [r.effect for r in again.records.values()] == ["duplicate"]
        page = await port.reads.list_page(
            EVENTS_LIST, T, EventsList(), after=None, limit=5, deadline=soon()
        )
        assert [(i["id"], i["actorId"]) for i in page.items] == [("v1", "u1")]

    async def test_entity_commands_leave_their_lifecycle_events(self, port: Port) -> None:
        await port.write(upsert("e1", 20), EntityDelete(id="e1", updatedAt=30, actorId="x"))
        await port.write(upsert("e1", 10))
        page = await port.reads.list_page(
            EVENTS_LIST, T, EventsList(targetId="e1"), after=None, limit=10, deadline=soon()
        )
        assert [(i["type"], i["timestamp"]) for i in page.items] == [
            ("entity_deleted", 30),
            ("entity_updated", 20),
            ("entity_created", 10),
        ]

    # Tags.

    async def test_tags_of_an_entity_by_key_and_of_a_key_by_entity(self, port: Port) -> None:
        await port.write(
            TagSet(entityId="e2", key="topic", value="ai"),
            TagSet(entityId="e1", key="topic", value="ai"),
            TagSet(entityId="e1", key="level", value="high"),
            TagSet(entityId="e3", key="topic", value="art"),
        )
        read = TAGS_LIST
        assert await port.pages(read, TagsList(entityId="e1"), limit=1) == [
            ["e1/level=high"],
            ["e1/topic=ai"],
        ]
        assert await port.pages(read, TagsList(key="topic"), limit=2) == [
            ["e1/topic=ai", "e2/topic=ai"],
            ["e3/topic=art"],
        ]
        assert await port.pages(read, TagsList(key="topic", value="ai"), limit=5) == [
            ["e1/topic=ai", "e2/topic=ai"]
        ]

    async def test_a_tag_write_older_than_the_stored_one_is_unchanged(self, port: Port) -> None:
        tag = {"entityId": "e1", "key": "topic", "value": "ai"}
        first = await port.write(TagSet(**tag), TagDelete(**tag))
        again = await port.write(TagSet(**tag))
        assert [r.effect for r in first.records.values()] == ["created", "deleted"]
        assert [r.effect for r in again.records.values()] == ["updated"]
        assert await port.pages(TAGS_LIST, TagsList(entityId="e1"), limit=5) == [["e1/topic=ai"]]
        deleted = await port.write(TagDelete(**tag))
        assert [r.effect for r in deleted.records.values()] == ["deleted"]
        assert await port.pages(TAGS_LIST, TagsList(entityId="e1"), limit=5) == [[]]

    # Graph and stats.

    async def test_traverse_walks_live_connections_breadth_first(self, port: Port) -> None:
        await port.write(
            *(upsert(n, 1) for n in ("a", "b", "c")),
            connect("ab", "a", "b", 10),
            connect("bc", "b", "c", 20),
            connect("cd", "c", "d", 30),
            connect("xa", "x", "a", 40, relationshipType="created_by"),
            connect("ac", "a", "c", 50),
        )
        await port.write(ConnectionDelete(id="ac", updatedAt=60), subject_type="owns")

        async def walk(start: str, **options: Any) -> tuple[list[str], list[str], bool]:
            options.setdefault("relationship_types", None)
            options.setdefault("limit", 10)
            found = await port.reads.traverse(T, start, deadline=soon(), **options)
            return ids(found.nodes), ids(found.edges), found.truncated

        assert await walk("a", direction="out", depth=1) == (["a", "b"], ["ab"], False)
        assert await walk("a", direction="out", depth=3) == (
            ["a", "b", "c"],
            ["ab", "bc", "cd"],
            False,
        )
        assert await walk("a", direction="in", depth=2) == (["a"], ["xa"], False)
        assert await walk("b", direction="both", depth=1) == (["b", "c", "a"], ["bc", "ab"], False)
        assert await walk("a", direction="out", depth=3, limit=2) == (
            ["a", "b", "c"],
            ["ab", "bc"],
            True,
        )
        typed = await walk("a", direction="both", depth=1, relationship_types=["created_by"])
        assert typed == (["a"], ["xa"], False)

    async def test_counts_per_value_most_frequent_first(self, port: Port) -> None:
        await port.write(
            upsert("a", 1, status="active"),
            upsert("b", 2, status="active"),
            upsert("c", 3, type="organization"),
            upsert("d", 4, status="draft"),
            EntityDelete(id="d", updatedAt=5, actorId="x"),
        )
        counts = await port.reads.count_by(T, "entities", "status", deadline=soon())
        assert counts == [{"value": "active", "count": 2}, {"value": None, "count": 1}]
        every = await port.reads.count_by(
            T, "entities", "type", include_deleted=True, deadline=soon()
        )
        assert every == [{"value": "creator", "count": 3}, {"value": "organization", "count": 1}]
        with pytest.raises(ValueError, match="cannot be grouped"):
            await port.reads.count_by(T, "entities", "name", deadline=soon())

    # A tenant's records (the platform owner's `tenant stats` and `tenant remove --purge`).

    async def test_a_tenants_records_are_counted_and_erased_alone(self, port: Port) -> None:
        await port.write(
            upsert("e1", 1), connect("c1", "e1", "e2", 2), TagSet(entityId="e1", key="k", value="v")
        )
        await port.write(upsert("e1", 1), event("v1", 3), tenant=OTHER)
        counts = await port.records.count(T)
        assert counts == {"entities": 1, "connections": 1, "events": 1, "tags": 1}
        assert await port.records.erase(T) == counts
        assert await port.records.count(T) == dict.fromkeys(counts, 0)
        assert await port.records.count(OTHER) == {
            "entities": 1,
            "connections": 0,
            "events": 2,
            "tags": 0,
        }

    # Deadlines.

    async def test_a_read_past_its_deadline_is_a_store_timeout(self, port: Port) -> None:
        passed = asyncio.get_running_loop().time() - 1
        with pytest.raises(StoreTimeoutError):
            await port.reads.get_entities(T, ["e1"], deadline=passed)
        with pytest.raises(StoreTimeoutError):
            await port.reads.list_page(
                ENTITIES_LIST, T, EntitiesList(), after=None, limit=5, deadline=passed
            )

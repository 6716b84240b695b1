"""`OneClient` against the session's real servers and running service."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from contracts.connection_spec import ConnectionSpec
from contracts.queries import ConnectionsList, EntitiesList, EntitiesSearch, EventsList, TagsList
from contracts.records import EntityRecord, EventRecord
from one_bus import (
    ChangeMessage,
    NotFoundError,
    OneClient,
    QueryError,
    items,
)
from tests.fixtures.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("bus")]


@pytest.fixture
async def one(nats_url: str, tenant: str) -> AsyncIterator[OneClient]:
    async with OneClient(tenant, ConnectionSpec(servers=[nats_url])) as client:
        yield client


async def stored_entity(one: OneClient, entity_id: str) -> EntityRecord | None:
    try:
        return await one.get_entity(entity_id)
    except NotFoundError:
        return None


async def test_an_upserted_entity_comes_back_typed_from_get_entity(one: OneClient) -> None:
    entity_id, ack = await one.upsert_entity(
        type="creator", name="Ada Lovelace", actor_id="u1", properties={"bio": "engines"}
    )
    assert (ack.stream, ack.duplicate) == ("ONE_INGEST", False)
    assert ack.msg_id != entity_id  # entity commands get a message id per call

    entity = await eventually(lambda: stored_entity(one, entity_id), bool)

    assert isinstance(entity, EntityRecord)
    assert (entity.name, entity.groupId, entity.properties) == (
        "Ada Lovelace",
        one.tenant,
        {"bio": "engines"},
    )


async def test_a_missing_entity_raises_not_found_with_its_code(one: OneClient) -> None:
    with pytest.raises(NotFoundError) as raised:
        await one.get_entity("nobody")
    assert (raised.value.code, raised.value.query) == ("not_found", "entities.get")


async def test_an_invalid_request_raises_a_query_error_with_details(one: OneClient) -> None:
    with pytest.raises(QueryError) as raised:
        await one.query("entities.get", {"id": {"$gt": ""}})
    assert raised.value.code == "invalid_request"
    assert raised.value.details


async def test_an_unknown_query_is_an_invalid_request(one: OneClient) -> None:
    with pytest.raises(QueryError) as raised:
        await one.query("no.such.query", {})
    assert raised.value.code == "invalid_request"


async def test_pages_follow_next_cursor_to_the_last_page(one: OneClient) -> None:
    ids = [
        (await one.upsert_entity(type="lesson", name=f"t{i}", actor_id="u"))[0] for i in range(5)
    ]
    request = EntitiesList(type="lesson", limit=2)
    await eventually(lambda: one.get_entities(ids), lambda found: len(found) == 5)

    pages = [page async for page in one.entity_pages(request)]
    listed = [entity.id async for entity in items(one.entity_pages(request))]

    assert [len(page.items) for page in pages] == [2, 2, 1]
    assert pages[-1].nextCursor is None
    assert sorted(listed) == sorted(ids)


async def test_a_republished_event_is_a_duplicate_and_is_stored_once(one: OneClient) -> None:
    metadata = {"status": "processed", "protocol": "x402", "amount": "10"}
    event_id, first = await one.publish_event(
        type="payment_event", actor_id="u1", target_id="c1", metadata=metadata
    )
    _, again = await one.publish_event(
        type="payment_event", actor_id="u1", target_id="c1", metadata=metadata, id=event_id
    )
    assert (first.msg_id, first.duplicate, again.duplicate, again.seq) == (
        event_id,
        False,
        True,
        first.seq,
    )
    page = await eventually(
        lambda: one.list_events(EventsList(type="payment_event")), lambda p: bool(p.items)
    )
    assert [event.id for event in page.items] == [event_id]


async def test_subscribe_replays_changes_from_a_time(one: OneClient) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    entity_id, _ = await one.upsert_entity(type="creator", name="Grace", actor_id="u1")

    async with one.subscribe(since=since) as changes:
        seen = [await changes.next(wait_s=15) for _ in range(2)]

    # The upsert and its `entity_created` audit event, each with its typed record.
    by_collection = {message.change.collection: message for message in seen}
    assert sorted(by_collection) == ["entities", "events"]
    entity, audit = by_collection["entities"].record, by_collection["events"].record
    assert isinstance(entity, EntityRecord)
    assert isinstance(audit, EventRecord)
    assert (entity.id, audit.type, audit.targetId) == (entity_id, "entity_created", entity_id)
    assert {message.position.stream for message in seen} == {"ONE_CHANGES"}


async def test_subscribe_to_events_from_a_sequence_sees_only_events(one: OneClient) -> None:
    async with one.subscribe(since=datetime.now(UTC) - timedelta(seconds=1)) as changes:
        await one.upsert_entity(type="creator", name="Hedy", actor_id="u1")
        seen: list[ChangeMessage] = [await changes.next(wait_s=15) for _ in range(2)]
    first_seq = min(message.position.seq for message in seen)

    async with one.subscribe("events", start_seq=first_seq) as events:
        event = await events.next(wait_s=15)
        with pytest.raises(TimeoutError):
            await events.next(wait_s=0.5)

    assert event.change.collection == "events"
    assert isinstance(event.record, EventRecord)
    assert event.record.type == "entity_created"


async def test_tags_and_connections_round_trip(one: OneClient) -> None:
    await one.set_tag("e1", "topic", "computing")
    connection_id, _ = await one.create_connection(
        from_id="e1", to_id="e2", relationship_type="owns"
    )
    tags = await eventually(lambda: one.list_tags(TagsList(entityId="e1")), lambda p: bool(p.items))
    assert [(tag.key, tag.value) for tag in tags.items] == [("topic", "computing")]
    listed = await eventually(
        lambda: one.list_connections(ConnectionsList(fromEntityId="e1")), lambda p: bool(p.items)
    )
    assert [connection.id for connection in listed.items] == [connection_id]

    await one.delete_connection(connection_id, relationship_type="owns")
    await one.delete_tag("e1", "topic", "computing")
    gone = await eventually(lambda: one.list_tags(TagsList(entityId="e1")), lambda p: not p.items)
    assert gone.items == []
    gone_connections = await eventually(
        lambda: one.list_connections(ConnectionsList(fromEntityId="e1")), lambda p: not p.items
    )
    assert gone_connections.items == []


async def test_a_protocol_message_becomes_an_event_under_its_record_id(one: OneClient) -> None:
    event_id, ack = await one.publish_protocol(
        "a2a",
        "TaskStatusUpdateEvent",
        {"taskId": "task-1", "contextId": "ctx-1", "status": {"state": "TASK_STATE_COMPLETED"}},
        actor_id="agent-travel",
        target_id="agent-assistant",
    )
    assert ack.msg_id == event_id
    page = await eventually(
        lambda: one.list_events(EventsList(metadata={"taskId": "task-1"})), lambda p: bool(p.items)
    )
    assert [(event.id, event.type, event.metadata["action"]) for event in page.items] == [
        (event_id, "task_event", "completed")
    ]


async def test_dead_letters_name_the_reason_and_the_ingest_sequence(one: OneClient) -> None:
    ack = await one.publish_raw("entities.creator.upsert", b'{"id": "broken"')
    async with one.dead_letters(since=datetime.now(UTC) - timedelta(seconds=1)) as letters:
        letter = await letters.next(wait_s=15)
    assert (letter.reason, letter.original_seq, letter.original_subject) == (
        "malformed_json",
        ack.seq,
        f"one.v1.{one.tenant}.entities.creator.upsert",
    )
    assert letter.data == b'{"id": "broken"'


async def test_search_returns_typed_entities(one: OneClient) -> None:
    entity_id, _ = await one.upsert_entity(type="creator", name="Katherine Johnson", actor_id="u")
    found = await eventually(
        lambda: one.search_entities(EntitiesSearch(text="kath")), lambda got: bool(got)
    )
    assert [entity.id for entity in found] == [entity_id]


async def test_a_plain_url_connects_to_an_open_server(nats_url: str, tenant: str) -> None:
    client = await OneClient.connect(tenant, nats_url)
    try:
        assert client.nats.is_connected
    finally:
        await client.close()


def test_a_bad_tenant_is_refused_before_connecting() -> None:
    with pytest.raises(ValueError, match="tenant"):
        OneClient("a.b")

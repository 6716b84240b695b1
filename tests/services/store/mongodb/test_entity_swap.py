"""Swapping merged entities in: written only if their `rev` is the one they were merged from."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.store.entity_fold import EntityFold
from services.store.mongodb.entity_swap import EntitySwap

pytestmark = pytest.mark.integration

Document = dict[str, Any]


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.seen: list[Document] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in ("find", "insert", "update"):
            self.seen.append({"name": event.command_name, **event.command})

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def watched(
    database: AsyncDatabase[Document], mongodb_uri: str
) -> AsyncIterator[tuple[AsyncCollection[Document], Commands]]:
    """The test's `entities` through a client whose commands are recorded."""
    commands = Commands()
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongodb_uri, event_listeners=[commands])
    try:
        yield client[database.name]["entities"], commands
    finally:
        await client.close()


def entity(key: str, rev: int, name: str) -> Document:
    return {"_id": key, "id": key, "groupId": "acme", "name": name, "rev": rev}


def fold(*changes: tuple[str, int | None, str]) -> EntityFold:
    """(key, the rev it was merged from, its new name) for each changed entity."""
    result = EntityFold()
    for key, rev, name in changes:
        result.documents[key] = entity(key, (rev or 0) + 1, name)
        result.expected_rev[key] = rev
    return result


async def names(collection: AsyncCollection[Document]) -> dict[str, tuple[str, int]]:
    return {d["_id"]: (d["name"], d["rev"]) async for d in collection.find({})}


async def test_new_entities_are_inserted_and_existing_ones_swapped_in_on_their_rev(
    watched: tuple[AsyncCollection[Document], Commands],
) -> None:
    entities, commands = watched
    await entities.insert_many([entity("a", 1, "old a"), entity("b", 1, "old b")])
    commands.seen.clear()

    outcome = await EntitySwap(entities).swap(fold(("a", 1, "a"), ("b", 1, "b"), ("c", None, "c")))
    insert, update = commands.seen  # every document as sent: nothing is read back

    assert outcome == (set(), {})
    assert await names(entities) == {"a": ("a", 2), "b": ("b", 2), "c": ("c", 1)}
    assert [d["_id"] for d in insert["documents"]] == ["c"]
    # By `_id` alone (a point lookup on every server), the `rev` checked in the update.
    assert [u["q"] for u in update["updates"]] == [{"_id": "a"}, {"_id": "b"}]
    assert all(isinstance(u["u"], list) for u in update["updates"])


async def test_an_entity_another_writer_changed_since_the_merge_is_a_conflict_and_kept(
    watched: tuple[AsyncCollection[Document], Commands],
) -> None:
    entities, commands = watched
    await entities.insert_many([entity("a", 2, "theirs"), entity("b", 1, "old b")])
    commands.seen.clear()

    conflicts, failed = await EntitySwap(entities).swap(fold(("a", 1, "mine"), ("b", 1, "b")))

    assert (conflicts, failed) == ({"a"}, {})
    assert await names(entities) == {"a": ("theirs", 2), "b": ("b", 2)}
    # One document fewer changed than sent: those sent are read back to tell which.
    assert [c["name"] for c in commands.seen[:2]] == ["update", "find"]


async def test_an_entity_expected_missing_or_present_that_is_not_is_a_conflict(
    watched: tuple[AsyncCollection[Document], Commands],
) -> None:
    entities, _ = watched
    await entities.insert_one(entity("inserted meanwhile", 1, "theirs"))

    conflicts, failed = await EntitySwap(entities).swap(
        fold(("inserted meanwhile", None, "mine"), ("gone", 3, "mine"))
    )

    assert (conflicts, failed) == ({"inserted meanwhile", "gone"}, {})
    assert await names(entities) == {"inserted meanwhile": ("theirs", 1)}


async def test_any_storable_content_is_swapped_in_as_it_is(
    watched: tuple[AsyncCollection[Document], Commands],
) -> None:
    """The new document travels in the update's pipeline as a literal: names with dots,
    strings that read like field paths or expressions are stored, not interpreted."""
    entities, _ = watched
    await entities.insert_one(entity("a", 1, "old"))
    changed = fold(("a", 1, "new"))
    changed.documents["a"]["properties"] = {
        "a.b": 1, "nested": {"c.d": [1, {"e.f": "$rev"}]}, "path": "$$ROOT", "none": None,
    }  # fmt: skip

    assert await EntitySwap(entities).swap(changed) == (set(), {})
    assert await entities.find_one({"_id": "a"}) == changed.documents["a"]

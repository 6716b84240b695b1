"""Swapping merged entities in: written only if their `rev` is the one they were merged from."""

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from pymongo import AsyncMongoClient, MongoClient, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from services.store.entity_fold import EntityFold
from services.store.entity_swap import EntitySwap

pytestmark = pytest.mark.integration

Document = dict[str, Any]


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.seen: list[Document] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in ("find", "insert", "update", "commitTransaction"):
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


async def test_new_entities_are_inserted_and_existing_ones_replaced_in_one_transaction(
    watched: tuple[AsyncCollection[Document], Commands],
) -> None:
    entities, commands = watched
    await entities.insert_many([entity("a", 1, "old a"), entity("b", 1, "old b")])
    commands.seen.clear()

    outcome = await EntitySwap(entities).swap(fold(("a", 1, "a"), ("b", 1, "b"), ("c", None, "c")))
    insert, read, update, commit = commands.seen

    assert outcome == (set(), {})
    assert await names(entities) == {"a": ("a", 2), "b": ("b", 2), "c": ("c", 1)}
    assert [d["_id"] for d in insert["documents"]] == ["c"]
    # The replacements are by `_id` alone, after a read of their `rev`, in one transaction.
    assert read["name"] == "find"
    assert "txnNumber" in read
    assert [u["q"] for u in update["updates"]] == [{"_id": "a"}, {"_id": "b"}]
    assert update["txnNumber"] == read["txnNumber"]
    assert commit["name"] == "commitTransaction"


async def test_an_entity_another_writer_changed_since_the_merge_is_a_conflict_and_kept(
    watched: tuple[AsyncCollection[Document], Commands],
) -> None:
    entities, _ = watched
    await entities.insert_many([entity("a", 2, "theirs"), entity("b", 1, "old b")])

    conflicts, failed = await EntitySwap(entities).swap(fold(("a", 1, "mine"), ("b", 1, "b")))

    assert (conflicts, failed) == ({"a"}, {})
    assert await names(entities) == {"a": ("theirs", 2), "b": ("b", 2)}


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


class NoTransactions(EntitySwap):
    """A server that is not a replica set member (mongod's answer, code 20)."""

    tried = 0

    async def _replace_in_transaction(self, fold: EntityFold, keys: Sequence[str]) -> set[str]:
        self.tried += 1
        raise OperationFailure("Transaction numbers are only allowed on a replica set", 20)


async def test_without_transactions_each_replacement_is_guarded_by_rev(
    watched: tuple[AsyncCollection[Document], Commands],
) -> None:
    entities, commands = watched
    await entities.insert_many([entity("a", 2, "theirs"), entity("b", 1, "old b")])
    swap = NoTransactions(entities)

    first = await swap.swap(fold(("a", 1, "mine"), ("b", 1, "b")))
    second = await swap.swap(fold(("b", 2, "b again")))

    assert first == ({"a"}, {})
    assert second == (set(), {})
    assert await names(entities) == {"a": ("theirs", 2), "b": ("b again", 3)}
    assert swap.tried == 1  # asked once, then remembered
    guarded = [u["q"] for c in commands.seen if c["name"] == "update" for u in c["updates"]]
    assert {"_id": "b", "rev": 2} in guarded


class WritesBeforeTheReplacements(monitoring.CommandListener):
    """Another writer's change to `key`, stored just before the replacements go out (after
    the transaction read the `rev`s)."""

    def __init__(self, mongodb_uri: str, database: str, key: str) -> None:
        self._client: MongoClient[Document] = MongoClient(mongodb_uri)
        self._entities = self._client[database]["entities"]
        self._key = key

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "update" and "txnNumber" in event.command:
            self._entities.update_one({"_id": self._key}, {"$set": {"name": "theirs", "rev": 2}})

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def close(self) -> None:
        self._client.close()


async def test_a_change_after_the_transaction_read_makes_every_replacement_a_conflict(
    database: AsyncDatabase[Document], mongodb_uri: str
) -> None:
    await database["entities"].insert_many([entity("a", 1, "old a"), entity("b", 1, "old b")])
    other = WritesBeforeTheReplacements(mongodb_uri, database.name, "a")
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongodb_uri, event_listeners=[other])
    try:
        swap = EntitySwap(client[database.name]["entities"])
        outcome = await swap.swap(fold(("a", 1, "mine"), ("b", 1, "b")))
    finally:
        await client.close()
        other.close()

    # Snapshot isolation: the write conflict aborts the transaction; both merge again.
    assert outcome == ({"a", "b"}, {})
    assert await names(database["entities"]) == {"a": ("theirs", 2), "b": ("old b", 1)}

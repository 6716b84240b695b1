"""Two writers (two replicas) merging commands of the same entities at once, on a real store.

Their reads and swaps interleave, so some swaps find `rev` changed and must merge again;
whatever the interleaving, the stored entities and lifecycle events are those of one
writer taking every command (entity_fold.py), and nothing is lost.
"""

import asyncio
import random
from typing import Any

import pytest
from pymongo import AsyncMongoClient, MongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from contracts.commands import EntityArchive, EntityDelete, EntityUpsert
from services.store.errors import StoreUnavailableError
from services.store.keys import document_id, to_record
from services.store.mongodb.writer import StoreWriter
from services.store.write_request import WriteRequest

pytestmark = pytest.mark.integration

Database = AsyncDatabase[dict[str, Any]]


def commands(entities: int, per_entity: int, seed: int) -> list[WriteRequest]:
    rng = random.Random(seed)
    requests = []
    seq = 0
    for n in range(entities):
        for _ in range(per_entity):
            seq += 1
            entity_id, updated_at = f"e{n}", rng.randint(1, 50)
            op = rng.choice(["upsert", "upsert", "delete", "archive"])
            command: EntityUpsert | EntityDelete | EntityArchive
            if op == "upsert":
                command = EntityUpsert(
                    id=entity_id, type="creator", name=f"n{seq}", updatedAt=updated_at, actorId="a"
                )
            elif op == "delete":
                command = EntityDelete(id=entity_id, updatedAt=updated_at, actorId="a")
            else:
                command = EntityArchive(id=entity_id, updatedAt=updated_at, actorId="a")
            requests.append(WriteRequest("acme", "creator", command, seq=seq, received_ms=0))
    return requests


async def stored(database: Database, collection: str) -> dict[str, dict[str, Any]]:
    return {d["_id"]: to_record(d) for d in await database[collection].find({}).to_list()}


async def test_two_writers_racing_on_the_same_entities_store_what_one_would(
    database: Database, mongo_client: AsyncMongoClient[dict[str, Any]]
) -> None:
    requests = commands(entities=8, per_entity=12, seed=3)
    shuffled = random.Random(4).sample(requests, len(requests))
    a, b = StoreWriter(database), StoreWriter(database)
    # Small batches in random order, split between the writers, all in flight together.
    batches = [shuffled[i : i + 4] for i in range(0, len(shuffled), 4)]

    async def write(writer: StoreWriter, batch: list[WriteRequest]) -> None:
        # As ingest does: a batch that kept losing to the other writer is retried
        # (StoreUnavailableError), which a loaded machine makes happen now and then.
        for _ in range(10):
            try:
                await writer.write(batch)
                return
            except StoreUnavailableError:
                await asyncio.sleep(0.05)
        raise AssertionError("a batch lost ten times in a row")

    await asyncio.gather(*(
        write(a if number % 2 else b, batch) for number, batch in enumerate(batches)
    ))  # fmt: skip

    reference = mongo_client[f"{database.name}_one_writer"]
    try:
        await StoreWriter(reference).write(requests)  # one writer, one batch, stream order
        for collection in ("entities", "events"):
            assert await stored(database, collection) == await stored(reference, collection)
    finally:
        await mongo_client.drop_database(reference.name)


class AnotherReplicaWritesFirst(monitoring.CommandListener):
    """Just before the writer's first entity update goes out, another replica's write
    lands on the same entity (a sync client, so it is stored before the update runs), and
    from then on counts the commands that write events."""

    def __init__(self, mongodb_uri: str, database: str, entity_key: str) -> None:
        self._client: MongoClient[dict[str, Any]] = MongoClient(mongodb_uri)
        self._entities = self._client[database]["entities"]
        self._key = entity_key
        self.raced = False
        self.event_writes_after: list[tuple[str, int]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        command = event.command
        if self.raced and command.get(event.command_name) == "events":
            self.event_writes_after.append(
                (event.command_name, len(command.get("documents", command.get("updates", []))))
            )
        if (
            event.command_name == "update"
            and command.get("update") == "entities"
            and not self.raced
        ):
            self.raced = True
            self._entities.update_one({"_id": self._key}, {"$inc": {"rev": 1}})

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def close(self) -> None:
        self._client.close()


async def test_a_swap_lost_to_another_replica_merges_again_without_rewriting_its_audit_events(
    database: Database, mongodb_uri: str
) -> None:
    def upsert(name: str, updated_at: int, seq: int) -> WriteRequest:
        command = EntityUpsert(
            id="e1", type="creator", name=name, updatedAt=updated_at, actorId="a"
        )
        return WriteRequest("acme", "creator", command, seq=seq, received_ms=0)

    await StoreWriter(database).write([upsert("first", 1, 1)])
    key = document_id("acme", "e1")
    race = AnotherReplicaWritesFirst(mongodb_uri, database.name, key)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri, event_listeners=[race])
    try:
        outcome = await StoreWriter(client[database.name]).write([upsert("second", 2, 2)])
    finally:
        await client.close()
        race.close()

    assert race.raced
    # The second round reads the entity again and swaps it in; its lifecycle event was
    # written by the first round as it still is, so no events are written again.
    assert race.event_writes_after == []
    entity = await database["entities"].find_one({"_id": key})
    assert entity is not None
    assert entity["name"] == "second"
    assert entity["rev"] == 3  # first write, the other replica's, the second round's
    events = await database["events"].find({"targetId": "e1"}).sort("timestamp", 1).to_list()
    assert [e["type"] for e in events] == ["entity_created", "entity_updated"]
    assert [c.document["_id"] for c in outcome.changes].count(
        document_id("acme", "lc@updated@2@e1")
    ) == 1

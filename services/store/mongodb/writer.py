"""Writing a batch of validated commands: one unordered bulk write per collection.

Order matters only between collections: entity lifecycle events go into `events` before
the entities are written, so that a crash between the two leaves nothing a redelivery
cannot complete (the events' ids are deterministic). Within a collection every operation
is guarded or idempotent, so unordered bulk writes are safe. Entities are merged
(entity_fold.py) and swapped in on their `rev`, so the stored state depends neither on the
order batches arrive in nor on which replica writes them.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, PyMongoError

from contracts.command_kinds import command_kind
from contracts.ontology import Collection
from services.store import documents
from services.store.command_writes import WriteEffects, bulk_write
from services.store.entity_fold import (
    Document,
    EntityCommand,
    fold_entities,
    step_change,
    step_record,
)
from services.store.errors import StoreUnavailableError
from services.store.guarded_write import GuardedWrite
from services.store.keys import document_id
from services.store.mongodb.entity_swap import EntitySwap
from services.store.mongodb.failures import bulk_write_errors
from services.store.mongodb.guarded_ops import apply_to_existing, bulk_op
from services.store.port import BatchOutcome
from services.store.stored_change import StoredChange
from services.store.write_request import WriteRequest

# Rounds of read-merge-swap before the batch is retried as a whole: replicas racing on one
# entity settle in one or two.
_MAX_MERGE_ROUNDS = 8


@dataclass(slots=True)
class _Bulk:
    """One collection's operations, each with the requests it came from and its changes."""

    operations: list[GuardedWrite] = field(default_factory=list)
    origins: list[list[int]] = field(default_factory=list)
    changes: list[list[StoredChange]] = field(default_factory=list)
    # The outcome of the request an operation is for (None: part of another's, such as
    # an entity's lifecycle event).
    effects: list[WriteEffects | None] = field(default_factory=list)

    def add(
        self,
        origins: list[int],
        operation: GuardedWrite,
        changes: list[StoredChange],
        effects: WriteEffects | None = None,
    ) -> None:
        self.operations.append(operation)
        self.origins.append(origins)
        self.changes.append(changes)
        self.effects.append(effects)


class StoreWriter:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._entities = database["entities"]
        self._swap = EntitySwap(self._entities)
        self._connections = database["connections"]
        self._events = database["events"]
        self._tags = database["tags"]
        # One batch writes at a time per process. Batches in hand at once overlap their
        # writes with NATS (publishing changes, acking), not with each other: batches
        # written side by side touch the same entities and lose each other's `rev` swaps,
        # costing a read and a write per entity to merge again, and the store gains
        # nothing from two writes at once when it is the bound.
        self._one_at_a_time = asyncio.Lock()

    async def write(self, batch: Sequence[WriteRequest]) -> BatchOutcome:
        """Write the batch; raise StoreUnavailableError if it must be retried as a whole."""
        try:
            async with self._one_at_a_time:
                return await self._write(batch)
        except PyMongoError as error:
            raise StoreUnavailableError(f"{type(error).__name__}: {error}") from error

    async def _write(self, batch: Sequence[WriteRequest]) -> BatchOutcome:
        bulks: dict[Collection, _Bulk] = {
            "events": _Bulk(),
            "connections": _Bulk(),
            "tags": _Bulk(),
        }
        for index, request in enumerate(batch):
            kind = command_kind(request.command)
            # Entity commands are merged with the stored entities (_write_entities).
            if kind.collection != "entities":
                write = bulk_write(kind, request)
                bulks[write.collection].add([index], write.operation, [write.change], write.effects)

        outcome = BatchOutcome()
        # One collection after the other, not side by side: the store is the bound, and
        # SecantusDB takes 50-80 % longer for two writes to different collections at once
        # than for the same writes one after the other (docs/benchmarks.md).
        await self._write_entities(batch, outcome, bulks["events"])
        await _run(self._connections, bulks["connections"], outcome)
        await self._read_back_deletes(outcome)
        await _run(self._tags, bulks["tags"], outcome)
        return outcome

    async def _read_back_deletes(self, outcome: BatchOutcome) -> None:
        """Give each connection delete's change the record as stored after it.

        The delete's update cannot return what it updated from a bulk write, and the
        request alone does not say which connection went (its ends, type, metadata): one
        read of the batch's deleted connections does. A create landing in between is
        read too, which is the stored state the change stands for.
        """
        deletes = [
            position
            for position, change in enumerate(outcome.changes)
            if change.collection == "connections" and change.op == "delete"
        ]
        if not deletes:
            return
        keys = list({outcome.changes[position].document["_id"] for position in deletes})
        found = self._connections.find({"_id": {"$in": keys}}, batch_size=len(keys) + 1)
        stored = {document["_id"]: document async for document in found}
        for position in deletes:
            document = stored.get(outcome.changes[position].document["_id"])
            if document is not None:
                type_token = document.get("relationshipType") or "unknown"
                change = StoredChange.of("connections", type_token, "delete", document)
                outcome.changes[position] = change

    async def _write_entities(
        self, batch: Sequence[WriteRequest], outcome: BatchOutcome, published: _Bulk
    ) -> None:
        """Merge entity commands into the stored documents (entity_fold.py), write their
        lifecycle events, then swap the documents in if their `rev` is unchanged.

        Lifecycle events go first, so that a crash between the two leaves nothing a
        redelivery cannot complete (their ids are deterministic). The batch's published
        events ride in the same write as the first lifecycle events: one store command
        fewer per batch. A swap that loses to another replica writing the same entity
        reads and merges again; lifecycle events an earlier round wrote as they are now are
        not written again.
        """
        position = {id(r): i for i, r in enumerate(batch)}
        pending = [r for r in batch if isinstance(r.command, EntityCommand)]
        if not pending:
            await _run(self._events, published, outcome)
            return
        # Lifecycle event `_id` → the type an earlier round wrote; events retyped already.
        written: dict[str, str] = {}
        retyped: set[tuple[str, str]] = set()
        for merge_round in range(_MAX_MERGE_ROUNDS):
            if not pending:
                return
            keys = list({_entity_key(r) for r in pending})
            # All in the first reply: no getMore past the default 101 documents, and one
            # more than can match, because a reply filling the batch exactly leaves the
            # cursor open for an empty getMore (on mongod as on SecantusDB).
            found = self._entities.find({"_id": {"$in": keys}}, batch_size=len(keys) + 1)
            stored = {doc["_id"]: doc async for doc in found}
            fold = fold_entities(pending, stored)
            events = published if merge_round == 0 else _Bulk()
            lifecycle_events: list[tuple[int, Document]] = []
            for lifecycle in fold.lifecycle:
                event = documents.lifecycle_event_document(lifecycle)
                if written.get(event["_id"]) == event["type"]:
                    continue
                index = position[id(lifecycle.request)]
                # The type is part of the version: a retyped event is a new change.
                change = StoredChange.of("events", event["type"], "create", event, event["type"])
                events.add([index], documents.lifecycle_write(event), [change])
                lifecycle_events.append((index, event))
            for tenant, event_id in set(fold.retyped) - retyped:
                events.add([], documents.lifecycle_retype(tenant, event_id), [])
            await _run(self._events, events, outcome)
            written.update(
                (event["_id"], event["type"])
                for index, event in lifecycle_events
                if index not in outcome.failed
            )
            retyped.update(fold.retyped)
            conflicts, failed = await self._swap.swap(fold)
            for step in fold.steps:
                key = step.document["_id"]
                if key in failed:
                    outcome.failed[position[id(step.request)]] = failed[key]
                elif key not in conflicts:
                    outcome.changes.append(step_change(step))
                    outcome.records[position[id(step.request)]] = step_record(step)
            pending = [r for r in pending if _entity_key(r) in conflicts]
        if pending:
            raise StoreUnavailableError(
                f"{len(pending)} entity writes kept losing to other writers"
            )


def _entity_key(request: WriteRequest) -> str:
    assert isinstance(request.command, EntityCommand)
    return document_id(request.tenant, request.command.id)


async def _run(collection: AsyncCollection[Document], bulk: _Bulk, outcome: BatchOutcome) -> None:
    """Plain inserts for what can be one, guarded upserts for the rest and for inserts
    that collided (guarded_write.py), then one by one for upserts that collided."""
    if not bulk.operations:
        return
    operations = bulk.operations
    stale: set[int] = set()
    failed: dict[int, str] = {}
    guarded = [i for i, op in enumerate(operations) if op.insert is None]
    plain = [(i, op.insert) for i, op in enumerate(operations) if op.insert is not None]
    inserts = [i for i, _ in plain]
    inserted = set(inserts)
    if plain:
        try:
            await collection.insert_many([document for _, document in plain], ordered=False)
        except BulkWriteError as error:
            collided, refused = bulk_write_errors(error)
            failed.update({inserts[i]: why for i, why in refused.items()})
            guarded = sorted(guarded + [inserts[i] for i in collided])
            inserted -= {inserts[i] for i in collided}
    if guarded:
        try:
            await collection.bulk_write([bulk_op(operations[i]) for i in guarded], ordered=False)
        except BulkWriteError as error:
            collided, refused = bulk_write_errors(error)
            failed.update({guarded[i]: why for i, why in refused.items()})
            # Rare (a newer version is stored, or a replica raced us): settle one by one.
            stale = {
                guarded[i]
                for i in collided
                if not await apply_to_existing(operations[guarded[i]], collection)
            }
    for position, changes in enumerate(bulk.changes):
        if position in failed:
            for origin in bulk.origins[position]:
                outcome.failed[origin] = failed[position]
            continue
        if position not in stale:
            outcome.changes.extend(changes)
        effects = bulk.effects[position]
        if effects is not None:
            effect = (
                effects.stale
                if position in stale
                else effects.inserted
                if position in inserted
                else effects.applied
            )
            for origin in bulk.origins[position]:
                outcome.records[origin] = effects.outcome(effect)

"""Writing a batch of validated commands: one unordered bulk write per collection.

Order matters only between collections: entity lifecycle events go into `events` before
the entities are written, so that a crash between the two leaves nothing a redelivery
cannot complete (the events' ids are deterministic). Within a collection every operation
is guarded or idempotent, so unordered bulk writes are safe.
"""

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, PyMongoError

from contracts.commands import (
    ConnectionCreate,
    ConnectionDelete,
    EntityArchive,
    EntityDelete,
    EntityUpsert,
    EventPublish,
    TagDelete,
    TagSet,
)
from contracts.records import ChangeOp
from services.store import documents
from services.store.entity_fold import Document, fold_entities
from services.store.failures import TransientStoreError, split_write_errors
from services.store.guarded_write import GuardedWrite
from services.store.keys import record_key
from services.store.stored_change import StoredChange
from services.store.write_request import WriteRequest


@dataclass(slots=True)
class BatchOutcome:
    """What became of a batch: changes to publish, and requests the store refused."""

    changes: list[StoredChange] = field(default_factory=list)
    # Index into the batch → why the store refused it (bad input: never retried).
    failed: dict[int, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Bulk:
    """One collection's operations, each with the requests it came from and its changes."""

    operations: list[GuardedWrite] = field(default_factory=list)
    origins: list[list[int]] = field(default_factory=list)
    changes: list[list[StoredChange]] = field(default_factory=list)

    def add(self, origins: list[int], operation: GuardedWrite, changes: list[StoredChange]) -> None:
        self.operations.append(operation)
        self.origins.append(origins)
        self.changes.append(changes)


class StoreWriter:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._entities = database["entities"]
        self._connections = database["connections"]
        self._events = database["events"]
        self._tags = database["tags"]

    async def write(self, batch: Sequence[WriteRequest]) -> BatchOutcome:
        """Write the batch; raise TransientStoreError if it must be retried as a whole."""
        try:
            return await self._write(batch)
        except PyMongoError as error:
            raise TransientStoreError(f"{type(error).__name__}: {error}") from error

    async def _write(self, batch: Sequence[WriteRequest]) -> BatchOutcome:
        entities, events, connections, tags = _Bulk(), _Bulk(), _Bulk(), _Bulk()
        await self._plan_entities(batch, entities, events)
        # An unordered bulk write would let any of two creates of one id win; the first
        # in stream order must (documents.connection_create), so later ones are dropped.
        first_creates: dict[str, Document] = {}
        for index, request in enumerate(batch):
            command = request.command
            if isinstance(command, EventPublish):
                document = documents.event_document(request)
                change = StoredChange.of("events", command.type, "create", document)
                events.add([index], documents.insert_once(document), [change])
            elif isinstance(command, ConnectionCreate):
                document = documents.connection_document(request)
                if first_creates.setdefault(document["_id"], document) != document:
                    continue
                change = StoredChange.of(
                    "connections", command.relationshipType, "create", document
                )
                connections.add([index], documents.connection_create(document), [change])
            elif isinstance(command, ConnectionDelete):
                operation, document = documents.connection_delete(request)
                type_token = request.subject_type or "unknown"
                change = StoredChange.of("connections", type_token, "delete", document)
                connections.add([index], operation, [change])
            elif isinstance(command, TagSet | TagDelete):
                operation, document = documents.tag_write(request)
                op: ChangeOp = "set" if isinstance(command, TagSet) else "delete"
                change = StoredChange.of("tags", op, op, document, version=request.seq)
                tags.add([index], operation, [change])

        outcome = BatchOutcome()
        # Lifecycle events first (see the module docstring), then the rest together.
        await _run(self._events, events, outcome)
        await asyncio.gather(
            _run(self._entities, entities, outcome),
            _run(self._connections, connections, outcome),
            _run(self._tags, tags, outcome),
        )
        return outcome

    async def _plan_entities(
        self, batch: Sequence[WriteRequest], entities: _Bulk, events: _Bulk
    ) -> None:
        """Fold entity commands over the stored state: one guarded replace per entity,
        one lifecycle event and one change per applied command."""
        position = {id(r): i for i, r in enumerate(batch)}
        requests = [
            r for r in batch if isinstance(r.command, EntityUpsert | EntityDelete | EntityArchive)
        ]
        if not requests:
            return
        keys = list({record_key(r.tenant, r.command.id) for r in requests})  # type: ignore[union-attr]
        stored = {doc["_id"]: doc async for doc in self._entities.find({"_id": {"$in": keys}})}
        fold = fold_entities(requests, stored)
        origins: dict[str, list[int]] = defaultdict(list)
        changes: dict[str, list[StoredChange]] = defaultdict(list)
        for step in fold.steps:
            index = position[id(step.request)]
            event = documents.lifecycle_event_document(step.request, step.lifecycle, step.document)
            lifecycle = StoredChange.of("events", event["type"], "create", event)
            events.add([index], documents.insert_once(event), [lifecycle])
            key = step.document["_id"]
            origins[key].append(index)
            version = step.document["version"]
            changes[key].append(
                StoredChange.of("entities", step.document["type"], step.op, step.document, version)
            )
        for key, document in fold.documents.items():
            entities.add(origins[key], _guarded_replace(document), changes[key])


async def _run(collection: AsyncCollection[Document], bulk: _Bulk, outcome: BatchOutcome) -> None:
    if not bulk.operations:
        return
    stale: set[int] = set()
    failed: dict[int, str] = {}
    try:
        await collection.bulk_write([op.bulk_op() for op in bulk.operations], ordered=False)
    except BulkWriteError as error:
        if error.details.get("writeConcernErrors"):
            raise TransientStoreError(str(error.details["writeConcernErrors"])) from error
        collided, failed = split_write_errors(error.details.get("writeErrors", []))
        # Rare (a newer version is stored, or a replica raced us): settle one by one.
        stale = {i for i in collided if not await bulk.operations[i].apply_to_existing(collection)}
    for position, changes in enumerate(bulk.changes):
        if position in failed:
            for origin in bulk.origins[position]:
                outcome.failed[origin] = failed[position]
        elif position not in stale:
            outcome.changes.extend(changes)


def _guarded_replace(document: Document) -> GuardedWrite:
    """Replace unless the stored version is newer (entity_fold.entity_version)."""
    guard = {"_id": document["_id"], "version": {"$lte": document["version"]}}
    return GuardedWrite(guard, replacement=document)

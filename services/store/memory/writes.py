"""The store port's writes over in-memory tables: what the MongoDB writer stores, and the
same changes and outcomes, for a batch at a time.

The documents are the ones the MongoDB writer sends (services/store/documents.py,
entity_fold.py); each guarded write's guard is applied here as MongoDB applies its
filter. One writer, no other replica: a compare-and-swap always wins, so entities are
merged once per batch.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from contracts.commands import (
    ConnectionCreate,
    ConnectionDelete,
    EventPublish,
    TagDelete,
    TagSet,
)
from contracts.ontology import Collection
from contracts.outcomes import Effect, OutcomeRecord
from contracts.records import ChangeOp
from services.store import documents
from services.store.entity_fold import (
    Document,
    EntityCommand,
    fold_entities,
    step_change,
    step_record,
)
from services.store.keys import document_id
from services.store.memory.tables import Tables
from services.store.port import BatchOutcome
from services.store.stored_change import StoredChange
from services.store.write_request import WriteRequest


@dataclass(frozen=True, slots=True)
class _Applied:
    """How a guarded write went: inserted (no document had its id), applied by its guard,
    or refused by it (stale)."""

    how: str

    def effect(self, inserted: Effect, applied: Effect, stale: Effect) -> Effect:
        return {"inserted": inserted, "applied": applied}.get(self.how, stale)


_INSERTED, _APPLIED, _STALE = _Applied("inserted"), _Applied("applied"), _Applied("stale")


class MemoryWrites:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def write(self, batch: Sequence[WriteRequest]) -> BatchOutcome:
        # In the MongoDB writer's order: events (published, then lifecycle), entities,
        # connections, tags; changes in that order too.
        outcome = BatchOutcome()
        for index, request in enumerate(batch):
            if isinstance(request.command, EventPublish):
                self._event(index, request, request.command, outcome)
        self._entities(batch, outcome)
        deletes: list[int] = []
        for index, request in enumerate(batch):
            if isinstance(request.command, ConnectionCreate):
                self._connection_create(index, request, request.command, outcome)
            elif isinstance(request.command, ConnectionDelete):
                deletes.append(len(outcome.changes))
                self._connection_delete(index, request, request.command, outcome)
        for position in deletes:
            # The change of a delete carries the connection as stored after the batch.
            stored = self._tables["connections"][outcome.changes[position].document["_id"]]
            type_token = stored.get("relationshipType") or "unknown"
            outcome.changes[position] = StoredChange.of(
                "connections", type_token, "delete", dict(stored)
            )
        for index, request in enumerate(batch):
            if isinstance(request.command, TagSet | TagDelete):
                self._tag(index, request, request.command, outcome)
        return outcome

    def _insert_once(self, collection: Collection, document: Document) -> _Applied:
        table = self._tables[collection]
        if document["_id"] in table:
            return _APPLIED  # its `$setOnInsert` changes nothing
        table[document["_id"]] = dict(document)
        return _INSERTED

    def _event(
        self, index: int, request: WriteRequest, command: EventPublish, outcome: BatchOutcome
    ) -> None:
        document = documents.event_document(request, command)
        applied = self._insert_once("events", document)
        outcome.changes.append(StoredChange.of("events", command.type, "create", document))
        effect = applied.effect("created", "duplicate", "duplicate")
        outcome.records[index] = OutcomeRecord(collection="events", id=command.id, effect=effect)

    def _entities(self, batch: Sequence[WriteRequest], outcome: BatchOutcome) -> None:
        pending = [r for r in batch if isinstance(r.command, EntityCommand)]
        if not pending:
            return
        position = {id(r): i for i, r in enumerate(batch)}
        entities, events = self._tables["entities"], self._tables["events"]
        stored = {
            key: entities[key] for key in (_entity_key(r) for r in pending) if key in entities
        }
        fold = fold_entities(pending, stored)
        for lifecycle in fold.lifecycle:
            event = documents.lifecycle_event_document(lifecycle)
            # Inserted once, but its type (re)set: entity_created can become entity_updated.
            events.setdefault(event["_id"], dict(event))["type"] = event["type"]
            change = StoredChange.of("events", event["type"], "create", event, event["type"])
            outcome.changes.append(change)
        for tenant, event_id in fold.retyped:
            retyped = events.get(document_id(tenant, event_id))
            if retyped is not None:
                retyped["type"] = "entity_updated"
        entities.update(fold.documents)
        for step in fold.steps:
            outcome.changes.append(step_change(step))
            outcome.records[position[id(step.request)]] = step_record(step)

    def _connection_create(
        self, index: int, request: WriteRequest, command: ConnectionCreate, outcome: BatchOutcome
    ) -> None:
        document = {**documents.connection_document(request, command), "createSeq": request.seq}
        table = self._tables["connections"]
        current = table.get(document["_id"])
        # The first create in stream order wins (documents.connection_create).
        if current is None:
            table[document["_id"]] = document
            applied = _INSERTED
        elif isinstance(current.get("createSeq"), int) and current["createSeq"] >= request.seq:
            current.update(document)
            applied = _APPLIED
        else:
            applied = _STALE
        if applied is not _STALE:
            change_document = {k: v for k, v in document.items() if k != "createSeq"}
            outcome.changes.append(
                StoredChange.of("connections", command.relationshipType, "create", change_document)
            )
        effect = applied.effect("created", "created", "duplicate")
        outcome.records[index] = OutcomeRecord(
            collection="connections", id=command.id, effect=effect
        )

    def _connection_delete(
        self, index: int, request: WriteRequest, command: ConnectionDelete, outcome: BatchOutcome
    ) -> None:
        _operation, tombstone = documents.connection_delete(request, command)
        table = self._tables["connections"]
        current = table.get(tombstone["_id"])
        if current is None:
            table[tombstone["_id"]] = dict(tombstone)
        else:
            # `$min` on deletedAt, `$max` on updatedAt (documents.connection_delete).
            at = tombstone["deletedAt"]
            current["deletedAt"] = min(current.get("deletedAt", at), at)
            current["updatedAt"] = max(current.get("updatedAt", at), at)
        type_token = tombstone["relationshipType"] or "unknown"
        outcome.changes.append(StoredChange.of("connections", type_token, "delete", tombstone))
        outcome.records[index] = OutcomeRecord(
            collection="connections", id=command.id, effect="deleted"
        )

    def _tag(
        self, index: int, request: WriteRequest, command: TagSet | TagDelete, outcome: BatchOutcome
    ) -> None:
        _operation, document = (
            documents.tag_set(request, command)
            if isinstance(command, TagSet)
            else documents.tag_delete(request, command)
        )
        table = self._tables["tags"]
        current = table.get(document["_id"])
        # Applies unless a newer tag write (by stream sequence) is stored.
        if current is None:
            table[document["_id"]] = dict(document)
            applied = _INSERTED
        elif isinstance(current.get("seq"), int) and current["seq"] <= request.seq:
            current.update(document)
            if isinstance(command, TagSet):
                current.pop("deletedAt", None)
            applied = _APPLIED
        else:
            applied = _STALE
        op: ChangeOp = "set" if isinstance(command, TagSet) else "delete"
        if applied is not _STALE:
            outcome.changes.append(StoredChange.of("tags", op, op, document, version=request.seq))
        effect = (
            applied.effect("created", "updated", "unchanged")
            if op == "set"
            else applied.effect("deleted", "deleted", "unchanged")
        )
        outcome.records[index] = OutcomeRecord(
            collection="tags",
            id=command.entityId,
            effect=effect,
            key=command.key,
            value=command.value,
        )


def _entity_key(request: WriteRequest) -> str:
    assert isinstance(request.command, EntityCommand)
    return document_id(request.tenant, request.command.id)

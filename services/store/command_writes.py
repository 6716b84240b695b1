"""The write each ingest command makes, by its type: the store's half of the command table.

The table's rows (contracts/command_kinds.py) say which collection a command goes to and
which op its change has; the builders here say what it writes there. Entity commands
have no builder: they are merged with the batch's others on the same entity and the
stored document (entity_fold.py), which is the writer's own step.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from contracts.command_kinds import CommandKind
from contracts.commands import (
    Command,
    ConnectionCreate,
    ConnectionDelete,
    EventPublish,
    TagDelete,
    TagSet,
)
from contracts.ontology import Collection
from contracts.outcomes import Effect, OutcomeRecord
from services.store import documents
from services.store.documents import Document
from services.store.guarded_write import GuardedWrite
from services.store.stored_change import StoredChange
from services.store.write_request import WriteRequest


@dataclass(frozen=True, slots=True)
class WriteEffects:
    """A write's record and what it did, told by how the write went (writer._run)."""

    record: OutcomeRecord
    # Inserted plainly (no document had its id); applied by the guarded upsert (one
    # had); refused by the guard (a newer version, or the record, is stored).
    inserted: Effect
    applied: Effect
    stale: Effect

    @classmethod
    def of(
        cls,
        collection: Collection,
        id: str,
        inserted: Effect,
        applied: Effect,
        stale: Effect,
        **fields: str,
    ) -> "WriteEffects":
        record = OutcomeRecord(collection=collection, id=id, effect=inserted, **fields)
        return cls(record, inserted, applied, stale)

    def outcome(self, effect: Effect) -> OutcomeRecord:
        return self.record.model_copy(update={"effect": effect})


@dataclass(frozen=True, slots=True)
class CommandWrite:
    """What a builder makes of one command; the collection and change op are its row's."""

    operation: GuardedWrite
    # The document the command's change carries, and the change subject's type token.
    document: Document
    type_token: str
    # The record the command's outcome names, and its effect by how the write went
    # (WriteEffects).
    record_id: str
    inserted: Effect
    applied: Effect
    stale: Effect
    record_fields: dict[str, str] = field(default_factory=dict)
    # Tells apart writes of one record that make the same change op (StoredChange.of).
    version: object = ""


@dataclass(frozen=True, slots=True)
class BulkWrite:
    """A command's operation in its collection's bulk write, with its change and outcome."""

    collection: Collection
    operation: GuardedWrite
    change: StoredChange
    effects: WriteEffects


def _event(request: WriteRequest, command: EventPublish) -> CommandWrite:
    document = documents.event_document(request, command)
    operation = documents.insert_once(document)
    # Events are immutable: one stored under this id stays as it is.
    return CommandWrite(
        operation, document, command.type, command.id, "created", "duplicate", "duplicate"
    )


def _connection_create(request: WriteRequest, command: ConnectionCreate) -> CommandWrite:
    document = documents.connection_document(request, command)
    operation = documents.connection_create(document, request.seq)
    # Applied: it fills a tombstone, or is this create again; stale: an earlier create of
    # the id is stored.
    return CommandWrite(
        operation,
        document,
        command.relationshipType,
        command.id,
        "created",
        "created",
        "duplicate",
    )


def _connection_delete(request: WriteRequest, command: ConnectionDelete) -> CommandWrite:
    operation, document = documents.connection_delete(request, command)
    # The subject's type for now: the writer reads the record back for its own
    # (writer._read_back_deletes).
    type_token = document["relationshipType"] or "unknown"
    return CommandWrite(
        operation, document, type_token, command.id, "deleted", "deleted", "deleted"
    )


def _tag_set(request: WriteRequest, command: TagSet) -> CommandWrite:
    operation, document = documents.tag_set(request, command)
    tag = {"key": command.key, "value": command.value}
    return CommandWrite(
        operation,
        document,
        "set",
        command.entityId,
        "created",
        "updated",
        "unchanged",
        tag,
        version=request.seq,
    )


def _tag_delete(request: WriteRequest, command: TagDelete) -> CommandWrite:
    operation, document = documents.tag_delete(request, command)
    tag = {"key": command.key, "value": command.value}
    return CommandWrite(
        operation,
        document,
        "delete",
        command.entityId,
        "deleted",
        "deleted",
        "unchanged",
        tag,
        version=request.seq,
    )


_C = TypeVar("_C", bound=Command)
Builder = Callable[[WriteRequest, Any], CommandWrite]


def _row(
    model: type[_C], build: Callable[[WriteRequest, _C], CommandWrite]
) -> tuple[type[Command], Builder]:
    """A builder under its command type: checked to take that type."""
    return model, build


BUILDERS: Final[Mapping[type[Command], Builder]] = dict(
    (
        _row(EventPublish, _event),
        _row(ConnectionCreate, _connection_create),
        _row(ConnectionDelete, _connection_delete),
        _row(TagSet, _tag_set),
        _row(TagDelete, _tag_delete),
    )
)


def bulk_write(kind: CommandKind, request: WriteRequest) -> BulkWrite:
    """The write of a command other than an entity's, in its row's collection."""
    built = BUILDERS[kind.model](request, request.command)
    change = StoredChange.of(
        kind.collection, built.type_token, kind.change_op, built.document, built.version
    )
    effects = WriteEffects.of(
        kind.collection,
        built.record_id,
        built.inserted,
        built.applied,
        built.stale,
        **built.record_fields,
    )
    return BulkWrite(kind.collection, built.operation, change, effects)

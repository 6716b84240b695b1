"""Folding a batch of entity commands into the state to store (pure, no I/O).

Each entity's version is `(updatedAt, seq)`, stored as one string (`version`): a command
applies when its version is at least the current one, so a stale update never wins, a
tie on `updatedAt` is broken by stream order, and a redelivered command (same version)
applies again to the same result.
Commands are folded in stream order on top of the stored documents, so a batch that
creates, updates and deletes one entity stores the final state in one write and still
records every step as a lifecycle event and a change.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.commands import EntityArchive, EntityDelete, EntityUpsert
from contracts.ontology import LifecycleEventType
from contracts.records import ChangeOp
from services.store.keys import record_key
from services.store.write_request import WriteRequest

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class AppliedStep:
    request: WriteRequest
    op: ChangeOp
    lifecycle: LifecycleEventType
    document: Document


@dataclass(slots=True)
class EntityFold:
    # Final state per `_id`, to be written with a guard on its version.
    documents: dict[str, Document] = field(default_factory=dict)
    steps: list[AppliedStep] = field(default_factory=list)
    stale: list[WriteRequest] = field(default_factory=list)


def entity_version(updated_at: int, seq: int) -> str:
    """`(updatedAt, seq)` as one string whose order is the version order.

    One field, so the store's guard is a single range (`version <= new`): SecantusDB plans
    an `$or` of the two fields as a collection scan.
    """
    return f"{updated_at:016d}.{seq:020d}"


def _tombstone(request: WriteRequest, entity_id: str, at: int) -> Document:
    """What a delete or archive leaves when the entity has not arrived yet."""
    return {
        "_id": record_key(request.tenant, entity_id),
        "id": entity_id,
        "groupId": request.tenant,
        "type": request.subject_type,
        "name": "",
        "properties": {},
        "createdAt": at,
    }


def _apply(request: WriteRequest, current: Document | None) -> tuple[ChangeOp, Document]:
    command = request.command
    if isinstance(command, EntityUpsert):
        document: Document = {
            "_id": record_key(request.tenant, command.id),
            "id": command.id,
            "groupId": request.tenant,
            "type": command.type,
            "name": command.name,
            "properties": command.properties,
            "createdAt": current["createdAt"]
            if current is not None
            else (command.createdAt if command.createdAt is not None else command.updatedAt),
            "updatedAt": command.updatedAt,
            "version": entity_version(command.updatedAt, request.seq),
        }
        if command.status is not None:
            document["status"] = command.status
        return "upsert", document
    assert isinstance(command, EntityDelete | EntityArchive)
    base = current if current is not None else _tombstone(request, command.id, command.updatedAt)
    document = {
        **base,
        "updatedAt": command.updatedAt,
        "version": entity_version(command.updatedAt, request.seq),
    }
    if isinstance(command, EntityDelete):
        document["deletedAt"] = command.updatedAt
        return "delete", document
    document["status"] = "archived"
    return "archive", document


_LIFECYCLE: dict[ChangeOp, LifecycleEventType] = {
    "delete": "entity_deleted",
    "archive": "entity_archived",
}


def fold_entities(requests: Iterable[WriteRequest], stored: Mapping[str, Document]) -> EntityFold:
    fold = EntityFold()
    current: dict[str, Document] = dict(stored)
    for request in sorted(requests, key=lambda r: r.seq):
        command = request.command
        assert isinstance(command, EntityUpsert | EntityDelete | EntityArchive)
        key = record_key(request.tenant, command.id)
        before = current.get(key)
        if (
            before is not None
            and entity_version(command.updatedAt, request.seq) < before["version"]
        ):
            fold.stale.append(request)
            continue
        op, after = _apply(request, before)
        lifecycle = _LIFECYCLE.get(op, "entity_created" if before is None else "entity_updated")
        fold.steps.append(AppliedStep(request, op, lifecycle, after))
        current[key] = after
        fold.documents[key] = after
    return fold

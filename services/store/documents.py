"""Commands → MongoDB write operations for connections, events and tags (pure, no I/O).

Every operation is idempotent: applying it twice, or after a newer one, changes nothing.
See docs/storage.md for the document layout.
"""

from typing import Any

from contracts.commands import (
    ConnectionCreate,
    ConnectionDelete,
    EntityUpsert,
    EventPublish,
    TagDelete,
    TagSet,
)
from contracts.correlation import correlation_refs
from services.store.entity_fold import Lifecycle
from services.store.guarded_write import GuardedWrite
from services.store.keys import document_id, tag_key
from services.store.write_request import WriteRequest

Document = dict[str, Any]


def event_document(request: WriteRequest, command: EventPublish) -> Document:
    document: Document = {
        "_id": document_id(request.tenant, command.id),
        "id": command.id,
        "groupId": request.tenant,
        "type": command.type,
        "actorId": command.actorId,
        "timestamp": command.timestamp,
        "metadata": command.metadata,
    }
    if command.targetId is not None:
        document["targetId"] = command.targetId
    refs = correlation_refs(command.metadata)
    if refs:
        # Internal and multikey-indexed: correlation lookups need no index per key.
        document["refs"] = refs
    return document


def lifecycle_event_document(lifecycle: Lifecycle) -> Document:
    """The audit-trail event of an entity command (entity_fold.py says which type).

    Its id is derived from the entity, the op and `updatedAt` (entity_fold.lifecycle_event_id),
    so recording the same command twice (a redelivery, a retried publish) leaves one event.
    The entity type is the command's own (an upsert's `type`, else the subject's), so the
    event does not depend on what else had arrived when it was written.
    """
    request, command = lifecycle.request, lifecycle.command
    entity_type = command.type if isinstance(command, EntityUpsert) else request.subject_type
    return {
        "_id": document_id(request.tenant, lifecycle.event_id),
        "id": lifecycle.event_id,
        "groupId": request.tenant,
        "type": lifecycle.type,
        "actorId": command.actorId,
        "targetId": command.id,
        "timestamp": command.updatedAt,
        "metadata": {"entityType": entity_type},
    }


def lifecycle_write(document: Document) -> GuardedWrite:
    """Insert once, but (re)set the type: entity_created can become entity_updated."""
    fields = {k: v for k, v in document.items() if k not in ("_id", "type")}
    return GuardedWrite(
        {"_id": document["_id"]},
        update={"$setOnInsert": fields, "$set": {"type": document["type"]}},
        insert=document,
    )


def lifecycle_retype(tenant: str, event_id: str) -> GuardedWrite:
    """An entity_created event whose command is no longer the entity's oldest."""
    return GuardedWrite(
        {"_id": document_id(tenant, event_id)},
        update={"$set": {"type": "entity_updated"}},
        upsert=False,
    )


def insert_once(document: Document) -> GuardedWrite:
    """Insert unless a document with this `_id` exists: events are immutable."""
    return GuardedWrite(
        {"_id": document["_id"]}, update={"$setOnInsert": document}, insert=document
    )


def connection_document(request: WriteRequest, command: ConnectionCreate) -> Document:
    document: Document = {
        "_id": document_id(request.tenant, command.id),
        "id": command.id,
        "groupId": request.tenant,
        "fromEntityId": command.fromEntityId,
        "toEntityId": command.toEntityId,
        "relationshipType": command.relationshipType,
        "createdAt": command.createdAt if command.createdAt is not None else request.received_ms,
    }
    if command.metadata is not None:
        document["metadata"] = command.metadata
    return document


# A tombstone's `createSeq`: later than any stream sequence, so any create fills it in.
NO_CREATE_YET = 2**62


def connection_create(document: Document, seq: int) -> GuardedWrite:
    """Create once: the first create of an id in stream order wins, whenever it arrives.

    `createSeq` is the stream sequence of the create stored. The guard matches a missing
    document (upsert), a tombstone left by a delete that arrived first (`NO_CREATE_YET`:
    filled in, its `deletedAt` kept), the same create again (a redelivery: rewrites the
    same fields, so its change is republished), or a later create that arrived first (a
    redelivery after a crash, or another replica, reorders them). An earlier create
    stored means this one misses: already created. Comparing sequences rather than
    contents keeps the result independent of arrival order (entity_fold.py says why).
    """
    fields = {k: v for k, v in document.items() if k != "_id"}
    return GuardedWrite(
        {"_id": document["_id"], "createSeq": {"$gte": seq}},
        update={"$set": {**fields, "createSeq": seq}},
        insert={**document, "createSeq": seq},
    )


def connection_delete(
    request: WriteRequest, command: ConnectionDelete
) -> tuple[GuardedWrite, Document]:
    """The delete, and the record it leaves where no create is stored: a tombstone.

    Its change carries the record as stored after the write (writer.py reads it back),
    so subscribers learn which connection went: ends, type and metadata with `deletedAt`.
    The tombstone below is that record only when the delete arrived before any create.
    """
    at = command.updatedAt if command.updatedAt is not None else request.received_ms
    key = document_id(request.tenant, command.id)
    # The subject's type until a create brings the connection's own.
    tombstone: Document = {
        "_id": key,
        "id": command.id,
        "groupId": request.tenant,
        "relationshipType": request.subject_type,
        "createSeq": NO_CREATE_YET,
    }
    # $min keeps the first delete time however often, and in whatever order, deletes land.
    operation = GuardedWrite(
        {"_id": key},
        update={
            "$min": {"deletedAt": at},
            "$max": {"updatedAt": at},
            "$setOnInsert": {k: v for k, v in tombstone.items() if k != "_id"},
        },
    )
    return operation, {**tombstone, "deletedAt": at, "updatedAt": at}


def tag_set(request: WriteRequest, command: TagSet) -> tuple[GuardedWrite, Document]:
    return _tag_write(request, command, deleted=False)


def tag_delete(request: WriteRequest, command: TagDelete) -> tuple[GuardedWrite, Document]:
    return _tag_write(request, command, deleted=True)


def _tag_write(
    request: WriteRequest, command: TagSet | TagDelete, *, deleted: bool
) -> tuple[GuardedWrite, Document]:
    """A guarded tag set or delete: applies only if no newer tag write (by seq) is stored.

    When a newer one is stored, the filter misses and the upsert collides on `_id`
    (duplicate key; see guarded_write.py).
    """
    key = tag_key(request.tenant, command.entityId, command.key, command.value)
    document: Document = {
        "_id": key,
        "groupId": request.tenant,
        "entityId": command.entityId,
        "key": command.key,
        "value": command.value,
        "seq": request.seq,
    }
    fields = {k: v for k, v in document.items() if k != "_id"}
    if deleted:
        document["deletedAt"] = request.received_ms
        update: Document = {"$set": {**fields, "deletedAt": request.received_ms}}
    else:
        update = {"$set": fields, "$unset": {"deletedAt": ""}}
    operation = GuardedWrite(
        {"_id": key, "seq": {"$lte": request.seq}}, update=update, insert=dict(document)
    )
    return operation, document

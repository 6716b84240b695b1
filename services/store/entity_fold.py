"""Merging entity commands into the state to store (pure, no I/O).

The stored state is a function of the *set* of commands received, never of the order they
arrived in. JetStream does not deliver in stream order once anything goes wrong: a batch
held by a killed replica is redelivered after `ack_wait`, after later messages were
written; two replicas write side by side. If the state depended on arrival order (an
older upsert arriving after a delete, say), the same input would leave different records
depending on which process happened to crash when. The fault suite (tests/faults/) found
exactly that, so the merge is defined as if every command had arrived in version order:

- Each command's version is `(updatedAt, seq)`, stored as one string (`entity_version`);
  a tie on `updatedAt` is broken by stream order.
- Content (`type`, `name`, `properties`, the upsert's `status`) is the newest upsert's.
- `deletedAt` is set when the newest delete is newer than that upsert (a newer upsert
  brings the entity back); `status` is `archived` when the newest archive is.
- `updatedAt` is the newest command's; `createdAt` is the earliest time any command gives
  (an upsert's `createdAt`, else its `updatedAt`).
- An entity with deletes or archives but no upsert yet is a tombstone (`name: ""`,
  `properties: {}`) that an older upsert arriving later fills in without reviving it.
- A stale upsert (older than the stored content) never changes the content.

The versions each part came from are kept as internal fields, so a command can be merged
into the stored document alone, in any order, with the same result:
`version` (newest command), `first` and `firstOp` (oldest command), `contentVersion`,
`deleteVersion`, `archiveVersion`; `rev` counts writes, for compare-and-swap between
replicas (writer.py).

Lifecycle events (the audit trail) record every command, in its own time: the oldest
command is `entity_created` if it is an upsert, every other upsert `entity_updated`,
deletes and archives `entity_deleted` / `entity_archived`. When an older command arrives
late it becomes the first, and the previous first's event is retyped `entity_updated`.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from contracts.command_kinds import command_kind
from contracts.commands import EntityArchive, EntityDelete, EntityUpsert
from contracts.ontology import LifecycleEventType
from contracts.outcomes import Effect, OutcomeRecord
from contracts.records import ChangeOp
from contracts.search_terms import search_terms
from services.store.keys import NAME_TERMS, document_id
from services.store.stored_change import StoredChange
from services.store.write_request import WriteRequest

Document = dict[str, Any]
EntityCommand = EntityUpsert | EntityDelete | EntityArchive

# Internal fields of an entity document (never in replies or changes: keys.to_record).
MERGE_FIELDS: Final = frozenset(
    {"version", "first", "firstOp", "contentVersion", "deleteVersion", "archiveVersion", "rev"}
)
_LIFECYCLE: Final[dict[ChangeOp, LifecycleEventType]] = {
    "upsert": "entity_updated",
    "delete": "entity_deleted",
    "archive": "entity_archived",
}
# The part of a lifecycle event id naming the op; created and updated share "updated"
# because which of the two an upsert is can change when an older command arrives late.
_EVENT_OP: Final[dict[str, str]] = {"upsert": "updated", "delete": "deleted", "archive": "archived"}


def entity_version(updated_at: int, seq: int) -> str:
    """`(updatedAt, seq)` as one string whose order is the version order."""
    return f"{updated_at:016d}.{seq:020d}"


def version_time(version: str) -> int:
    """The `updatedAt` a version string was made from."""
    return int(version.split(".", 1)[0])


def lifecycle_event_id(entity_id: str, op: str, updated_at: int) -> str:
    """Deterministic, so recording the same command twice (a redelivery) leaves one event.

    `@` is outside the characters of a publisher's record id, so no published event can
    take this id first and leave its own `actorId` in the audit trail.
    """
    return f"lc@{_EVENT_OP[op]}@{updated_at}@{entity_id}"


@dataclass(frozen=True, slots=True)
class AppliedStep:
    """One command merged: its change op and the entity's state right after it."""

    request: WriteRequest
    op: ChangeOp
    document: Document


def step_effect(step: AppliedStep) -> Effect:
    """What the step's command did to the entity, read off the state right after it.

    Read off the merged state rather than off what was stored before, so a redelivered
    command (merged again into the state it made) tells the same as the first delivery.
    """
    command = step.request.command
    assert isinstance(command, EntityCommand)
    version = entity_version(command.updatedAt, step.request.seq)
    document = step.document
    if step.op == "upsert":
        if document.get("contentVersion") != version:
            return "unchanged"
        first = document["first"] == version and document["firstOp"] == "upsert"
        return "created" if first else "updated"
    if step.op == "delete":
        took = document.get("deleteVersion") == version and "deletedAt" in document
        return "deleted" if took else "unchanged"
    took = document.get("archiveVersion") == version and document.get("status") == "archived"
    return "archived" if took else "unchanged"


def step_record(step: AppliedStep) -> OutcomeRecord:
    """The outcome of the step's command (contracts/outcomes.py)."""
    document = step.document
    return OutcomeRecord(
        collection="entities",
        id=document["id"],
        effect=step_effect(step),
        version=document["version"],
    )


def step_change(step: AppliedStep) -> StoredChange:
    """The change the step publishes."""
    command = step.request.command
    assert isinstance(command, EntityCommand)
    version = entity_version(command.updatedAt, step.request.seq)
    return StoredChange.of("entities", step.document["type"], step.op, step.document, version)


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """A lifecycle event to write: the command it records and the type it has now."""

    request: WriteRequest
    # The request's command, as the entity command it is.
    command: EntityCommand
    event_id: str
    type: LifecycleEventType


@dataclass(slots=True)
class EntityFold:
    # New state per `_id`, for entities that changed; written only if the stored `rev` is
    # still `expected_rev` (None: no document yet).
    documents: dict[str, Document] = field(default_factory=dict)
    expected_rev: dict[str, int | None] = field(default_factory=dict)
    steps: list[AppliedStep] = field(default_factory=list)
    # One per event id (ties on op and updatedAt share one), with its type.
    lifecycle: list[Lifecycle] = field(default_factory=list)
    # (tenant, event id) of events that were `entity_created` and are now `entity_updated`.
    retyped: list[tuple[str, str]] = field(default_factory=list)


def _op(command: EntityCommand) -> ChangeOp:
    return command_kind(command).change_op


def _newer(version: str, than: str | None) -> bool:
    return than is None or version > than


def merge(current: Document | None, request: WriteRequest) -> Document:
    """The entity after `request`, whatever order commands arrive in (module docstring)."""
    command = request.command
    assert isinstance(command, EntityCommand)
    op = _op(command)
    version = entity_version(command.updatedAt, request.seq)
    created_at = command.updatedAt
    if isinstance(command, EntityUpsert) and command.createdAt is not None:
        created_at = command.createdAt
    if current is None:
        current = {
            "_id": document_id(request.tenant, command.id),
            "id": command.id,
            "groupId": request.tenant,
            "type": request.subject_type,
            "name": "",
            "properties": {},
            "createdAt": created_at,
            "first": version,
            "firstOp": op,
        }
    document = dict(current)
    if version < document["first"]:
        document["first"], document["firstOp"] = version, op
    document["version"] = max(version, document.get("version", version))
    document["updatedAt"] = version_time(document["version"])
    document["createdAt"] = min(document["createdAt"], created_at)

    if isinstance(command, EntityUpsert):
        if _newer(version, document.get("contentVersion")):
            document.update(
                contentVersion=version,
                type=command.type,
                name=command.name,
                properties=command.properties,
            )
            # The words `entities.search` finds it by (internal; tombstones have none).
            document[NAME_TERMS] = search_terms(command.name)
            document.pop("status", None)
            if command.status is not None:
                document["status"] = command.status
    elif isinstance(command, EntityDelete):
        if _newer(version, document.get("deleteVersion")):
            document["deleteVersion"] = version
    elif _newer(version, document.get("archiveVersion")):
        document["archiveVersion"] = version

    # Deletes and archives count only when newer than the content (a newer upsert revives).
    content = document.get("contentVersion")
    deleted = document.get("deleteVersion")
    if deleted is not None and _newer(deleted, content):
        document["deletedAt"] = version_time(deleted)
    else:
        document.pop("deletedAt", None)
    archived = document.get("archiveVersion")
    if archived is not None and _newer(archived, content):
        document["status"] = "archived"
    return document


def _first_event_id(document: Document) -> str | None:
    """The id of the `entity_created` event, if the oldest command is an upsert."""
    if document["firstOp"] != "upsert":
        return None
    return lifecycle_event_id(document["id"], "upsert", version_time(document["first"]))


def fold_entities(requests: Iterable[WriteRequest], stored: Mapping[str, Document]) -> EntityFold:
    """Merge a batch of entity commands into the stored documents (keyed by `_id`)."""
    fold = EntityFold()
    by_key: dict[str, list[WriteRequest]] = defaultdict(list)
    for request in sorted(requests, key=lambda r: r.seq):
        assert isinstance(request.command, EntityCommand)
        by_key[document_id(request.tenant, request.command.id)].append(request)
    for key, commands in by_key.items():
        before = stored.get(key)
        document = before
        for request in commands:
            document = merge(document, request)
            fold.steps.append(AppliedStep(request, _op(request.command), document))  # type: ignore[arg-type]
        assert document is not None
        if document != before:
            rev = before.get("rev") if before is not None else None
            document["rev"] = (rev or 0) + 1
            fold.documents[key] = document
            fold.expected_rev[key] = rev
        _record_lifecycle(fold, before, document, commands)
    return fold


def _record_lifecycle(
    fold: EntityFold, before: Document | None, after: Document, commands: list[WriteRequest]
) -> None:
    created = _first_event_id(after)
    seen: set[str] = set()
    for request in commands:
        command = request.command
        assert isinstance(command, EntityCommand)
        op = _op(command)
        event_id = lifecycle_event_id(command.id, op, command.updatedAt)
        if event_id in seen:
            continue
        seen.add(event_id)
        kind: LifecycleEventType = "entity_created" if event_id == created else _LIFECYCLE[op]
        fold.lifecycle.append(Lifecycle(request, command, event_id, kind))
    previous = _first_event_id(before) if before is not None and "firstOp" in before else None
    if previous is not None and previous != created and previous not in seen:
        fold.retyped.append((after["groupId"], previous))

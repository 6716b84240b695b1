"""Stored records as users see them in query replies and on the `changes` subjects.

A record's id travels as `id` (never MongoDB's `_id`) together with its `groupId`.
"""

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter

from contracts.ontology import Collection


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    groupId: str


class EntityRecord(_Record):
    id: str
    type: str
    name: str
    properties: dict[str, Any]
    status: str | None = None
    createdAt: int
    updatedAt: int
    deletedAt: int | None = None


class ConnectionRecord(_Record):
    id: str
    fromEntityId: str
    toEntityId: str
    relationshipType: str
    metadata: dict[str, Any] | None = None
    createdAt: int
    deletedAt: int | None = None
    # The newest delete's time, on a deleted connection.
    updatedAt: int | None = None


class ConnectionTombstone(_Record):
    """A connection deleted before its create arrived; the create fills it in, deleted."""

    id: str
    relationshipType: str
    deletedAt: int
    updatedAt: int


class EventRecord(_Record):
    id: str
    type: str
    actorId: str
    targetId: str | None = None
    timestamp: int
    metadata: dict[str, Any]


class TagRecord(_Record):
    entityId: str
    key: str
    value: str
    # On the change of a tag delete.
    deletedAt: int | None = None


ChangeOp = Literal["upsert", "delete", "archive", "create", "set"]


class Change(BaseModel):
    """Published on `one.v1.<tenant>.changes.<collection>.<type>` after a write landed."""

    model_config = ConfigDict(frozen=True)

    collection: Collection
    op: ChangeOp
    record: dict[str, Any]


# What subscribers receive, by collection and op: the schema of `changes` and what the SDK
# parses a change's record as (the service builds `Change` from the stored document).


class _TypedChange(BaseModel):
    model_config = ConfigDict(frozen=True)


class EntityChange(_TypedChange):
    """On `changes.entities.<entityType>`: the entity as stored after the command."""

    collection: Literal["entities"]
    op: Literal["upsert", "delete", "archive"]
    record: EntityRecord


class ConnectionCreated(_TypedChange):
    """On `changes.connections.<relationshipType>`: the connection as created."""

    collection: Literal["connections"]
    op: Literal["create"]
    record: ConnectionRecord


class ConnectionDeleted(_TypedChange):
    """On `changes.connections.<relationshipType>`: the connection as stored after the
    delete (with `deletedAt`), or a tombstone where its create has not arrived yet."""

    collection: Literal["connections"]
    op: Literal["delete"]
    record: ConnectionRecord | ConnectionTombstone


class EventChange(_TypedChange):
    """On `changes.events.<eventType>`, lifecycle events included."""

    collection: Literal["events"]
    op: Literal["create"]
    record: EventRecord


class TagChange(_TypedChange):
    """On `changes.tags.set` and `changes.tags.delete`: the tag (a delete has `deletedAt`)."""

    collection: Literal["tags"]
    op: Literal["set", "delete"]
    record: TagRecord


AnyChange = EntityChange | ConnectionCreated | ConnectionDeleted | EventChange | TagChange
"""Every change the service publishes, typed."""

CHANGE_ADAPTER: Final[TypeAdapter[AnyChange]] = TypeAdapter(AnyChange)

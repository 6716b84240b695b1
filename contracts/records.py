"""Stored records as users see them in query replies and on the `changes` subjects.

A record's id travels as `id` (never MongoDB's `_id`) together with its `groupId`.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

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


ChangeOp = Literal["upsert", "delete", "archive", "create", "set"]


class Change(BaseModel):
    """Published on `one.v1.<tenant>.changes.<collection>.<type>` after a write landed."""

    model_config = ConfigDict(frozen=True)

    collection: Collection
    op: ChangeOp
    record: dict[str, Any]

"""What publishers send on the ingest subjects (README "Subjects"), as strict pydantic models.

Strict: a string never stands in for a number, unknown fields are refused, and
`properties`/`metadata` must be storable JSON objects. A record's `id` is chosen by the
publisher (UUIDv7 or ULID) so that a retried publish names the same record.
"""

from typing import Annotated, Final, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contracts.json_values import JsonObject
from contracts.metadata_rules import (
    CONNECTION_VARIANTS,
    check_connection_metadata,
    check_event_metadata,
)
from contracts.ontology import ConnectionType, EntityStatus, EntityType, EventType

MAX_EPOCH_MS: Final = 2**53 - 1

RecordId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:~-]{0,127}$")]
"""A publisher-chosen id: UUID, ULID or any short token of these characters."""
TenantId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
EpochMs = Annotated[int, Field(ge=0, le=MAX_EPOCH_MS)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=256)]
TagValue = Annotated[str, StringConstraints(max_length=1024)]


class Command(BaseModel):
    """Base of every ingest payload. `groupId`, if given, must equal the subject's tenant."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    groupId: TenantId | None = None


class EntityUpsert(Command):
    id: RecordId
    type: EntityType
    name: Name
    properties: JsonObject = Field(default_factory=dict)
    status: EntityStatus | None = None
    createdAt: EpochMs | None = None
    updatedAt: EpochMs
    actorId: RecordId


class EntityDelete(Command):
    """Soft delete: sets `deletedAt` to `updatedAt`."""

    id: RecordId
    updatedAt: EpochMs
    actorId: RecordId


class EntityArchive(Command):
    """Sets `status` to `archived`."""

    id: RecordId
    updatedAt: EpochMs
    actorId: RecordId


class ConnectionCreate(Command):
    id: RecordId
    fromEntityId: RecordId
    toEntityId: RecordId
    relationshipType: ConnectionType
    metadata: JsonObject | None = None
    createdAt: EpochMs | None = None

    @model_validator(mode="after")
    def _variant(self) -> Self:
        if self.metadata is not None or self.relationshipType in CONNECTION_VARIANTS:
            checked = check_connection_metadata(self.relationshipType, self.metadata or {})
            object.__setattr__(self, "metadata", checked)
        return self


class ConnectionDelete(Command):
    id: RecordId
    updatedAt: EpochMs | None = None


class TagSet(Command):
    entityId: RecordId
    key: TagKey
    value: TagValue


class TagDelete(Command):
    entityId: RecordId
    key: TagKey
    value: TagValue


class EventPublish(Command):
    id: RecordId
    type: EventType
    actorId: RecordId
    targetId: RecordId | None = None
    timestamp: EpochMs
    metadata: JsonObject

    @model_validator(mode="after")
    def _variant(self) -> Self:
        object.__setattr__(self, "metadata", check_event_metadata(self.type, self.metadata))
        return self


AnyCommand = (
    EntityUpsert
    | EntityDelete
    | EntityArchive
    | ConnectionCreate
    | ConnectionDelete
    | TagSet
    | TagDelete
    | EventPublish
)

COMMAND_MODELS: Final[dict[tuple[str, str | None], type[Command]]] = {
    ("entities", "upsert"): EntityUpsert,
    ("entities", "delete"): EntityDelete,
    ("entities", "archive"): EntityArchive,
    ("connections", "create"): ConnectionCreate,
    ("connections", "delete"): ConnectionDelete,
    ("tags", "set"): TagSet,
    ("tags", "delete"): TagDelete,
    ("events", None): EventPublish,
}
"""The payload model for each (subject kind, op) pair."""

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
    EVENT_VARIANTS,
    check_connection_metadata,
    check_event_metadata,
    metadata_schema_rules,
)
from contracts.ontology import (
    PUBLISHABLE_EVENT_TYPES,
    ConnectionType,
    EntityStatus,
    EntityType,
    EventType,
)
from contracts.schema_rules import Schema, add_rules, describe

MAX_EPOCH_MS: Final = 2**53 - 1

RecordId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:~-]{0,127}$")]
"""A publisher-chosen id: UUID, ULID or any short token of these characters."""
TenantId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
EpochMs = Annotated[int, Field(ge=0, le=MAX_EPOCH_MS)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=256)]
TagValue = Annotated[str, StringConstraints(max_length=1024)]


_BEYOND_SCHEMA: Final = (
    "Checked by the service, beyond this schema: the message fits the deployment's max"
    " payload and header limits; `groupId` and the type field equal the"
    " subject's tenant and type; times are at most the configured clock skew"
    " (ONE_MAX_CLOCK_SKEW_S) ahead of the time the bus received the message; integers are"
    " written without a fraction or exponent; no string holds a lone UTF-16 surrogate"
    " escape; a known protocol's `metadata.payload` is a valid message of that protocol;"
    " free-form objects nest at most 32 levels, hold integers of at most 64 bits and no"
    " field name starting with `$` or containing NUL at any depth."
)


def _beyond_schema(schema: Schema) -> None:
    describe(schema, _BEYOND_SCHEMA)


class Command(BaseModel):
    """Base of every ingest payload. `groupId`, if given, must equal the subject's tenant."""

    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, json_schema_extra=_beyond_schema
    )

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


def _connection_variants(schema: Schema) -> None:
    add_rules(schema, *metadata_schema_rules("relationshipType", CONNECTION_VARIANTS))
    _beyond_schema(schema)


class ConnectionCreate(Command):
    model_config = ConfigDict(json_schema_extra=_connection_variants)

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


def _event_variants(schema: Schema) -> None:
    add_rules(schema, *metadata_schema_rules("type", EVENT_VARIANTS))
    _beyond_schema(schema)


class EventPublish(Command):
    """An event; the lifecycle types (`entity_created`, ...) are the service's own."""

    model_config = ConfigDict(json_schema_extra=_event_variants)

    id: RecordId
    # The lifecycle types are refused with their own reason (services/ingest/decode.py);
    # the schema lists only the types a publisher may send.
    type: Annotated[EventType, Field(json_schema_extra={"enum": list(PUBLISHABLE_EVENT_TYPES)})]
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

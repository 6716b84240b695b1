"""Write outcomes: what ingest did with a message whose publisher asked (docs/outcomes.md).

A publisher asks by sending the message with the header `One-Outcome-To: <inbox>`, a
subject it subscribes to. Once the message is durable in the store (or in the dead-letter
stream) and acked, ingest publishes one `Outcome` there as JSON, with core NATS: at most
once, never before the write is durable. The inbox must be the publisher's own: an inbox
(`_INBOX…`), and a tenant inbox (`_INBOX_TENANT.<tenant>.…`) only of the message's tenant;
any other target is dropped.

`seq` is the message's ingest stream sequence, the token a query or watch passes as
`after` to see every write of the tenant up to it (read-your-writes).
"""

from typing import Annotated, Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from contracts.dead_letters import DeadLetterReason
from contracts.ontology import Collection
from contracts.watches import DeliverTo

OUTCOME_TO_HEADER: Final = "One-Outcome-To"
"""Request header: the publisher's inbox the outcome of this write goes to."""

Effect = Literal["created", "updated", "unchanged", "deleted", "archived", "duplicate"]
"""What a write did to one record.

- `created`: the record is new (an entity: its oldest command is this upsert);
- `updated`: an entity's content or a tag was replaced by this write;
- `unchanged`: stale, a newer version is stored (an older upsert, delete, archive or
  tag write arriving late): nothing visible changed;
- `deleted` / `archived`: this delete or archive is the entity's (or connection's,
  tag's) newest and took effect;
- `duplicate`: a record with this id was stored before and is kept as it is (an event
  or connection id published again); also what the SDK reports, without asking ingest,
  when JetStream's PubAck says `duplicate` (the message never reached ingest).
"""

EFFECTS: Final[tuple[Effect, ...]] = get_args(Effect)


class OutcomeRecord(BaseModel):
    """One record a write became (a protocol message can become several)."""

    # Strict, as the exported schema is: a client reads `"seq": "7"` as no answer of ours.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    collection: Collection
    id: Annotated[
        str,
        Field(
            description="The record's id; for a tag, the tagged entity's id (with `key` and"
            " `value`)."
        ),
    ]
    effect: Annotated[
        Effect,
        Field(
            description="What the write did to the record: `created`, `updated`, `unchanged`"
            " (stale: a newer version is stored), `deleted`, `archived` (this delete or"
            " archive took effect), `duplicate` (a record with this id was stored before"
            " and is kept as it is)."
        ),
    ]
    version: Annotated[
        str | None,
        Field(
            description="Entities: the stored version after the write, `<updatedAt>.<stream"
            " seq>`, zero padded so that versions order as strings; newer than this write's"
            " own when `unchanged`."
        ),
    ] = None
    key: Annotated[str | None, Field(description="Tags: the tag's key.")] = None
    value: Annotated[str | None, Field(description="Tags: the tag's value.")] = None


def _status_required(schema: dict[str, Any]) -> None:
    # `status` has a default so that code builds an answer without naming it, but every
    # answer carries it and `OUTCOME` needs it to tell the kinds apart: the exported
    # schema requires it, as a client in another language should.
    schema["required"] = ["status", *schema.get("required", [])]


class _Outcome(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, json_schema_extra=_status_required
    )

    stream: Annotated[str, Field(description="The ingest stream the message is in.")]
    seq: Annotated[
        int,
        Field(
            ge=0,
            description="The message's ingest stream sequence (its PubAck's): pass it as"
            " `after` to a query or watch to read this write and every earlier one of the"
            " tenant.",
        ),
    ]


class Stored(_Outcome):
    """The write is in the store (every record it became)."""

    status: Literal["stored"] = "stored"
    records: Annotated[
        tuple[OutcomeRecord, ...],
        Field(description="Every record the message became, in order."),
    ] = ()
    # Set by the SDK, never by ingest: the stream had this Nats-Msg-Id already, so ingest
    # never saw the message again.
    duplicate: Annotated[
        bool,
        Field(
            description="`true` only where an SDK answers by itself for a PubAck that said"
            " duplicate; ingest always sends `false`."
        ),
    ] = False

    @property
    def effect(self) -> Effect:
        """The write's effect: its (first) record's, or `duplicate` for a PubAck duplicate."""
        if self.duplicate or not self.records:
            return "duplicate" if self.duplicate else "unchanged"
        return self.records[0].effect


class Rejected(_Outcome):
    """The write was dead-lettered: `code` is its `One-Dlq-Reason`, `message` the error."""

    status: Literal["rejected"] = "rejected"
    code: Annotated[
        DeadLetterReason, Field(description="The dead letter's `One-Dlq-Reason` header.")
    ]
    message: Annotated[str, Field(description="The dead letter's `One-Dlq-Error` header.")]


Outcome = Annotated[Stored | Rejected, Field(discriminator="status")]
OUTCOME: Final[TypeAdapter[Stored | Rejected]] = TypeAdapter(Outcome)

OUTCOME_MODELS: Final[dict[str, type[Stored | Rejected]]] = {"stored": Stored, "rejected": Rejected}
"""Each answer's model by its `status`."""


def outcome_json_schema() -> dict[str, Any]:
    """The JSON Schema of any answer (`OUTCOME`'s): one of the kinds, told by `status`."""
    schema = OUTCOME.json_schema()
    # `discriminator` is OpenAPI's keyword, not JSON Schema's (ajv in strict mode refuses
    # it); `status` being required and a const per kind makes the `oneOf` exact without it.
    del schema["discriminator"]
    schema["description"] = (
        "What became of a write whose publisher asked (header `One-Outcome-To`): `stored` or"
        " `rejected`. Published with core NATS at that inbox after the write is acked or"
        " dead-lettered, at most once."
    )
    return schema


_TARGET: Final[TypeAdapter[str]] = TypeAdapter(DeliverTo)


def valid_target(subject: str) -> bool:
    """Whether `subject` is a concrete NATS subject an outcome could be published to
    (printable tokens, no wildcard, at most 256 characters); whose inbox it is, is the
    service's reply rule."""
    try:
        _TARGET.validate_python(subject)
    except ValidationError:
        return False
    return True

"""How a publisher names the record, the parties and the time of a raw protocol message.

The NATS message body is the protocol message exactly as its spec has it, so a service
publishes its A2A, ACP, AP2, x402 or AG-UI messages unchanged. What ONE needs besides,
and a protocol payload rarely contains, travels in NATS headers:

| header          | required | value                                                     |
|-----------------|----------|-----------------------------------------------------------|
| `Nats-Msg-Id`   | yes      | the event's record id (RecordId); JetStream dedupes on it |
| `One-Actor-Id`  | yes      | ONE entity id of the party that sent the message          |
| `One-Target-Id` | no       | ONE entity id of the party it was sent to                 |
| `One-Timestamp` | no       | when it happened, epoch ms as decimal digits              |
| `One-Correlation-Id` | no | ties messages the protocol does not link itself     |

`One-Correlation-Id` (say, the id of one AP2 v0.1 purchase, whose intent, cart and
payment mandates share no field) is stored as `metadata.correlationId`.

Without `One-Timestamp` the event takes the message's own time if the spec gives it one,
else the time the bus received it. Without `One-Target-Id` there is no target and no
connection. The record id is at most 100 characters so that the records derived from it
(`<id>:<key>`, records.py) stay within RecordId's 128.
"""

from collections.abc import Mapping
from typing import Annotated, Final, Self

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from contracts.commands import EpochMs, RecordId
from contracts.nats_headers import HEADER_MSG_ID

# The record id travels as the message id: a retried publish is dropped by JetStream.
HEADER_RECORD_ID: Final = HEADER_MSG_ID
HEADER_ACTOR_ID: Final = "One-Actor-Id"
HEADER_TARGET_ID: Final = "One-Target-Id"
HEADER_TIMESTAMP: Final = "One-Timestamp"
HEADER_CORRELATION_ID: Final = "One-Correlation-Id"

MAX_RECORD_ID_LENGTH: Final = 100

ProtocolRecordId = Annotated[RecordId, StringConstraints(max_length=MAX_RECORD_ID_LENGTH)]

_FIELD_HEADERS: Final = {
    "recordId": HEADER_RECORD_ID,
    "actorId": HEADER_ACTOR_ID,
    "targetId": HEADER_TARGET_ID,
    "timestamp": HEADER_TIMESTAMP,
    "correlationId": HEADER_CORRELATION_ID,
}


class EnvelopeError(ValueError):
    """The headers of a raw protocol message do not say what ONE needs to record it."""


class ProtocolEnvelope(BaseModel):
    """The ONE fields of a raw protocol message, read from (or written to) NATS headers."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    recordId: ProtocolRecordId
    actorId: RecordId
    targetId: RecordId | None = None
    timestamp: EpochMs | None = None
    correlationId: RecordId | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str] | None) -> Self:
        """Read the envelope; header names match case-insensitively. Raises EnvelopeError."""
        found = {name.lower(): value for name, value in (headers or {}).items() if value}

        def header(name: str) -> str | None:
            return found.get(name.lower())

        record_id, actor_id = header(HEADER_RECORD_ID), header(HEADER_ACTOR_ID)
        if record_id is None:
            raise EnvelopeError(
                f"header {HEADER_RECORD_ID} is required: the record id of the event this"
                " protocol message becomes (a UUID or ULID; retries reuse it)"
            )
        if actor_id is None:
            raise EnvelopeError(
                f"header {HEADER_ACTOR_ID} is required: the ONE entity id of the party that"
                " sent this protocol message (its payload names no ONE entity)"
            )
        raw_time = header(HEADER_TIMESTAMP)
        # At most 16 digits (EpochMs tops out at 2**53 - 1): thousands of digits would
        # otherwise cost a long int() and then fail on its length limit.
        if raw_time is not None and not (
            raw_time.isascii() and raw_time.isdigit() and len(raw_time) <= 16
        ):
            raise EnvelopeError(
                f"header {HEADER_TIMESTAMP} must be epoch milliseconds as decimal digits,"
                f" not {raw_time!r}"
            )
        try:
            return cls(
                recordId=record_id,
                actorId=actor_id,
                targetId=header(HEADER_TARGET_ID),
                timestamp=int(raw_time) if raw_time is not None else None,
                correlationId=header(HEADER_CORRELATION_ID),
            )
        except ValidationError as error:
            problems = "; ".join(
                f"header {_FIELD_HEADERS.get(str(problem['loc'][0]), problem['loc'][0])}:"
                f" {problem['msg']}"
                for problem in error.errors()
            )
            raise EnvelopeError(problems) from error

    def to_headers(self) -> dict[str, str]:
        """The NATS headers a publisher sets for this envelope."""
        headers = {HEADER_RECORD_ID: self.recordId, HEADER_ACTOR_ID: self.actorId}
        if self.targetId is not None:
            headers[HEADER_TARGET_ID] = self.targetId
        if self.timestamp is not None:
            headers[HEADER_TIMESTAMP] = str(self.timestamp)
        if self.correlationId is not None:
            headers[HEADER_CORRELATION_ID] = self.correlationId
        return headers

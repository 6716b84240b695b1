"""Step one of the ingest path: raw NATS message → a typed write request, or a rejection.

Everything that makes a message *bad input* is decided here, before any I/O, so that
the rest of the path only ever sees valid commands.
"""

from dataclasses import dataclass
from typing import Final

from pydantic import ValidationError

from contracts.commands import COMMAND_MODELS, AnyCommand
from contracts.subjects import IngestSubject, SubjectError, parse_ingest_subject
from services.ingest.rejection import Rejection
from services.store.write_request import WriteRequest

_TYPE_FIELD: Final = {"entities": "type", "connections": "relationshipType", "events": "type"}


@dataclass(frozen=True, slots=True)
class RawMessage:
    """The parts of a JetStream message that decoding needs."""

    subject: str
    data: bytes
    stream_seq: int
    received_ms: int


def decode(raw: RawMessage, max_payload_bytes: int) -> WriteRequest | Rejection:
    try:
        subject = parse_ingest_subject(raw.subject)
    except SubjectError as error:
        return Rejection("bad_subject", str(error))
    if len(raw.data) > max_payload_bytes:
        return Rejection(
            "oversize", f"payload is {len(raw.data)} bytes; the limit is {max_payload_bytes}"
        )
    model = COMMAND_MODELS.get((subject.kind, subject.op))
    if model is None:
        return Rejection("unsupported", f"no ingest handler for {subject.kind!r} messages yet")
    try:
        command: AnyCommand = model.model_validate_json(raw.data)  # type: ignore[assignment]
    except ValidationError as error:
        return Rejection.from_validation(error)
    mismatch = _subject_mismatch(subject, command)
    if mismatch:
        return Rejection("subject_mismatch", mismatch)
    return WriteRequest(
        tenant=subject.tenant,
        subject_type=subject.type,
        command=command,
        seq=raw.stream_seq,
        received_ms=raw.received_ms,
    )


def _subject_mismatch(subject: IngestSubject, command: AnyCommand) -> str | None:
    if command.groupId is not None and command.groupId != subject.tenant:
        return f"payload groupId {command.groupId!r} differs from subject tenant {subject.tenant!r}"
    field = _TYPE_FIELD.get(subject.kind)
    if field is not None and hasattr(command, field):
        payload_type = getattr(command, field)
        if payload_type != subject.type:
            return f"payload {field} {payload_type!r} differs from subject type {subject.type!r}"
    return None

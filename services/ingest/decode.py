"""Step one of the ingest path: raw NATS message → a typed write request, or a rejection.

Everything that makes a message *bad input* is decided here, before any I/O, so that
the rest of the path only ever sees valid commands.
"""

from typing import Final

from pydantic import ValidationError

from contracts.commands import COMMAND_MODELS, AnyCommand, ConnectionCreate, EventPublish
from contracts.protocols import ProtocolMessageError
from contracts.protocols.direct import check_protocol_payload
from contracts.subjects import IngestSubject, SubjectError, parse_ingest_subject
from services.ingest.protocol_decode import decode_protocol
from services.ingest.raw_message import RawMessage
from services.ingest.rejection import Rejection
from services.store.write_request import WriteRequest

_TYPE_FIELD: Final = {"entities": "type", "connections": "relationshipType", "events": "type"}


def decode(raw: RawMessage, max_payload_bytes: int) -> tuple[WriteRequest, ...] | Rejection:
    """The write requests a message means (one, or several for a protocol message)."""
    try:
        subject = parse_ingest_subject(raw.subject)
    except SubjectError as error:
        return Rejection("bad_subject", str(error))
    if len(raw.data) > max_payload_bytes:
        return Rejection(
            "oversize", f"payload is {len(raw.data)} bytes; the limit is {max_payload_bytes}"
        )
    if subject.kind == "protocols" and subject.type and subject.op:
        return decode_protocol(raw, subject.tenant, subject.type, subject.op)
    model = COMMAND_MODELS[(subject.kind, subject.op)]
    try:
        command: AnyCommand = model.model_validate_json(raw.data)  # type: ignore[assignment]
    except ValidationError as error:
        return Rejection.from_validation(error)
    mismatch = _subject_mismatch(subject, command)
    if mismatch:
        return Rejection("subject_mismatch", mismatch)
    if isinstance(command, EventPublish | ConnectionCreate) and command.metadata:
        try:
            metadata = check_protocol_payload(command.metadata)
        except ProtocolMessageError as error:
            return Rejection("invalid_payload", f"metadata.payload: {error}")
        command = command.model_copy(update={"metadata": metadata})
    return (WriteRequest(subject.tenant, subject.type, command, raw.stream_seq, raw.received_ms),)


def _subject_mismatch(subject: IngestSubject, command: AnyCommand) -> str | None:
    if command.groupId is not None and command.groupId != subject.tenant:
        return f"payload groupId {command.groupId!r} differs from subject tenant {subject.tenant!r}"
    field = _TYPE_FIELD.get(subject.kind)
    if field is not None and hasattr(command, field):
        payload_type = getattr(command, field)
        if payload_type != subject.type:
            return f"payload {field} {payload_type!r} differs from subject type {subject.type!r}"
    return None

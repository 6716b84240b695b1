"""Step one of the ingest path: raw NATS message → a typed write request, or a rejection.

Everything that makes a message *bad input* is decided here, before any I/O, so that
the rest of the path only ever sees valid commands.
"""

from pydantic import ValidationError

from contracts.command_kinds import CommandKind, subject_command_kind
from contracts.commands import AnyCommand, ConnectionCreate, EventPublish
from contracts.ontology import LIFECYCLE_EVENT_TYPES
from contracts.protocols import ProtocolMessageError
from contracts.protocols.direct import check_protocol_payload
from contracts.subjects import IngestSubject, SubjectError, parse_ingest_subject
from services.ingest.input_limits import TIME_FIELDS, InputLimits, header_bytes
from services.ingest.protocol_decode import decode_protocol
from services.ingest.raw_message import RawMessage
from services.ingest.rejection import Rejection
from services.store.write_request import WriteRequest


def decode(raw: RawMessage, limits: InputLimits) -> tuple[WriteRequest, ...] | Rejection:
    """The write requests a message means (one, or several for a protocol message)."""
    try:
        subject = parse_ingest_subject(raw.subject)
    except SubjectError as error:
        return Rejection("bad_subject", str(error))
    if len(raw.data) > limits.max_payload_bytes:
        return Rejection(
            "oversize", f"payload is {len(raw.data)} bytes; the limit is {limits.max_payload_bytes}"
        )
    size = header_bytes(raw.headers)
    if size > limits.max_header_bytes:
        return Rejection(
            "oversize", f"headers are {size} bytes; the limit is {limits.max_header_bytes}"
        )
    if subject.kind == "protocols" and subject.type and subject.op:
        decoded = decode_protocol(raw, subject.tenant, subject.type, subject.op)
    else:
        decoded = _decode_command(raw, subject)
    if isinstance(decoded, Rejection):
        return decoded
    return _too_far_ahead(decoded, raw.received_ms + limits.max_clock_skew_ms) or decoded


def _decode_command(raw: RawMessage, subject: IngestSubject) -> tuple[WriteRequest] | Rejection:
    kind = subject_command_kind(subject.kind, subject.op)
    try:
        command: AnyCommand = kind.model.model_validate_json(raw.data)  # type: ignore[assignment]
    except ValidationError as error:
        return Rejection.from_validation(error)
    mismatch = _subject_mismatch(subject, kind, command)
    if mismatch:
        return Rejection("subject_mismatch", mismatch)
    if isinstance(command, EventPublish) and command.type in LIFECYCLE_EVENT_TYPES:
        return Rejection(
            "invalid_payload",
            f"{command.type} is recorded by the service for each entity command (the audit "
            "trail); publish the entity command instead",
        )
    if isinstance(command, EventPublish | ConnectionCreate) and command.metadata:
        try:
            metadata = check_protocol_payload(command.metadata)
        except ProtocolMessageError as error:
            return Rejection("invalid_payload", f"metadata.payload: {error}")
        if metadata is not command.metadata:
            # Only a protocol payload is rewritten (redacted); copying every event's model
            # for nothing cost a twentieth of ingest's CPU.
            command = command.model_copy(update={"metadata": metadata})
    return (WriteRequest(subject.tenant, subject.type, command, raw.stream_seq, raw.received_ms),)


def _too_far_ahead(requests: tuple[WriteRequest, ...], latest_ms: int) -> Rejection | None:
    for request in requests:
        # The fields themselves: getattr on a field a model lacks goes through pydantic's
        # __getattr__ and an AttributeError, which cost ingest more than validation did.
        fields = vars(request.command)
        for name in TIME_FIELDS:
            value = fields.get(name)
            if value is not None and value > latest_ms:
                return Rejection(
                    "invalid_payload",
                    f"{name} {value} is later than the time the bus received the message "
                    "allows (see ONE_MAX_CLOCK_SKEW_S)",
                )
    return None


def _subject_mismatch(subject: IngestSubject, kind: CommandKind, command: AnyCommand) -> str | None:
    if command.groupId is not None and command.groupId != subject.tenant:
        return f"payload groupId {command.groupId!r} differs from subject tenant {subject.tenant!r}"
    field = kind.type_field
    if field is not None:
        payload_type = getattr(command, field)
        if payload_type != subject.type:
            return f"payload {field} {payload_type!r} differs from subject type {subject.type!r}"
    return None

"""Decoding a raw protocol message into the ontology records it means.

The body is the protocol message as its spec has it; the envelope (record id, actor,
target, time) travels in headers. One message may become several records: its event,
related events (an ACP completed checkout is also a processed payment) and the
connection between the two parties.
"""

from pydantic import ValidationError
from pydantic_core import from_json

from contracts.protocols import (
    EnvelopeError,
    ProtocolEnvelope,
    ProtocolMessageError,
    map_protocol_message,
    protocol_records,
)
from services.ingest.raw_message import RawMessage
from services.ingest.rejection import Rejection
from services.store.write_request import WriteRequest


def decode_protocol(
    raw: RawMessage, tenant: str, protocol: str, message_type: str
) -> tuple[WriteRequest, ...] | Rejection:
    try:
        envelope = ProtocolEnvelope.from_headers(raw.headers)
    except EnvelopeError as error:
        return Rejection("invalid_envelope", str(error))
    try:
        payload = from_json(raw.data)
    except ValueError as error:
        return Rejection("malformed_json", f"payload is not valid JSON: {error}")
    if not isinstance(payload, dict):
        return Rejection("invalid_payload", "a protocol message must be a JSON object")
    try:
        mapping = map_protocol_message(protocol, message_type, payload)
        records = protocol_records(tenant, envelope, mapping, received_at_ms=raw.received_ms)
    except ProtocolMessageError as error:
        return Rejection("invalid_payload", str(error))
    except ValidationError as error:
        return Rejection.from_validation(error)
    commands = (records.event, *records.related_events)
    requests = [
        WriteRequest(tenant, event.type, event, raw.stream_seq, raw.received_ms)
        for event in commands
    ]
    if records.connection is not None:
        connection = records.connection
        requests.append(
            WriteRequest(
                tenant,
                connection.relationshipType,
                connection,
                raw.stream_seq,
                raw.received_ms,
            )
        )
    return tuple(requests)

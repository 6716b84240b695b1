"""Raw protocol messages (A2A, ACP, AP2, x402, AG-UI, or any other) on ONE Bus.

Publish the protocol message unchanged as the NATS body on
`one.v1.<tenant>.protocols.<protocol>.<messageType>`, with the envelope headers
(envelope.py). Ingest validates it with the protocol's models and records the ontology
event and connection it means (mapping.py, records.py). See docs/protocols.md.
"""

from contracts.protocols.envelope import (
    HEADER_ACTOR_ID,
    HEADER_CORRELATION_ID,
    HEADER_RECORD_ID,
    HEADER_TARGET_ID,
    HEADER_TIMESTAMP,
    EnvelopeError,
    ProtocolEnvelope,
)
from contracts.protocols.mapping import (
    ProtocolMapping,
    ProtocolMessageError,
    known_message_types,
    map_protocol_message,
    validate_protocol_payload,
)
from contracts.protocols.meaning import ProtocolConnection, RelatedEvent
from contracts.protocols.records import ProtocolRecords, connection_id, protocol_records

__all__ = [
    "HEADER_ACTOR_ID",
    "HEADER_CORRELATION_ID",
    "HEADER_RECORD_ID",
    "HEADER_TARGET_ID",
    "HEADER_TIMESTAMP",
    "EnvelopeError",
    "ProtocolConnection",
    "ProtocolEnvelope",
    "ProtocolMapping",
    "ProtocolMessageError",
    "ProtocolRecords",
    "RelatedEvent",
    "connection_id",
    "known_message_types",
    "map_protocol_message",
    "protocol_records",
    "validate_protocol_payload",
]

"""Protocol payloads inside directly published events and connections.

An event or connection published on its own subject may carry a protocol message in
`metadata.payload`. With a known `metadata.protocol` that payload is validated exactly as
a raw protocol message would be, so it needs `metadata.messageType` to say what it is.
"""

from typing import Any

from contracts.metadata_rules import KNOWN_PROTOCOLS
from contracts.protocols.mapping import ProtocolMessageError, validate_protocol_payload


def check_protocol_payload(metadata: dict[str, Any]) -> dict[str, Any]:
    """Return metadata with its payload validated (and redacted where the spec demands).

    Raises ProtocolMessageError if a known protocol's payload is not a valid message.
    """
    protocol = metadata.get("protocol")
    if protocol not in KNOWN_PROTOCOLS or "payload" not in metadata:
        return metadata
    message_type = metadata.get("messageType")
    if not isinstance(message_type, str):
        raise ProtocolMessageError(
            f"metadata.messageType must name the {protocol} message in metadata.payload"
        )
    payload = metadata["payload"]
    if not isinstance(payload, dict):
        raise ProtocolMessageError(f"metadata.payload must be a {protocol} message object")
    return {**metadata, "payload": validate_protocol_payload(protocol, message_type, payload)}

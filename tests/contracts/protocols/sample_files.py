"""The sample messages under `samples/<protocol>/` and what each is specified to mean."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.commands import EventPublish
from contracts.metadata_rules import check_connection_metadata, check_event_metadata
from contracts.protocols import ProtocolMapping, map_protocol_message

SAMPLES = Path(__file__).parent / "samples"


@dataclass(frozen=True)
class Expected:
    """What a good sample maps to: the event, a subset of its metadata, the connection."""

    message_type: str
    event_type: str
    metadata: dict[str, Any] = field(default_factory=dict)
    connection: str | None = None


@dataclass(frozen=True)
class Rejected:
    """A malformed sample, the message type it claims, and a fragment of the reason."""

    message_type: str
    reason: str


def load(protocol: str, name: str) -> dict[str, Any]:
    data = json.loads((SAMPLES / protocol / name).read_text())
    assert isinstance(data, dict)
    return data


def good_samples(protocol: str) -> set[str]:
    return {path.name for path in (SAMPLES / protocol).glob("*.json")}


def malformed_samples(protocol: str) -> set[str]:
    return {f"malformed/{path.name}" for path in (SAMPLES / protocol / "malformed").glob("*.json")}


def check_sample(protocol: str, name: str, expected: Expected) -> ProtocolMapping:
    """Map a good sample and check it against its specification and the ontology rules."""
    payload = load(protocol, name)
    mapping = map_protocol_message(protocol, expected.message_type, payload)
    assert mapping.validated
    assert mapping.event_type == expected.event_type
    assert mapping.metadata["protocol"] == protocol
    assert mapping.metadata["messageType"] == expected.message_type
    for key, value in expected.metadata.items():
        assert mapping.metadata.get(key) == value, key
    for key, value in mapping.correlation.items():
        assert mapping.metadata[key] == value
    connection = mapping.connection.relationship_type if mapping.connection else None
    assert connection == expected.connection
    # The rules the ingest side applies hold for everything the mapping produced.
    check_event_metadata(mapping.event_type, mapping.metadata)
    if mapping.connection is not None:
        check_connection_metadata(connection or "", dict(mapping.connection.metadata))
        assert mapping.connection.metadata["protocol"] == protocol
    EventPublish(
        id="evt-1", type=mapping.event_type, actorId="a", timestamp=0, metadata=mapping.metadata
    )
    return mapping

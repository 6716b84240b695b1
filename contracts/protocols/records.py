"""The ingest commands one raw protocol message becomes (pure: ingest persists them).

- the event: id = the envelope's record id, actor and target from the envelope, time
  from the envelope, else the message, else when the bus received it;
- one event per related event, id `<record id>:<key>`, with `sourceEventId`;
- the connection, if the mapping implies one and the envelope names a target. One
  connection stands for a relationship, not for each message: its id is derived from
  (from, to, relationship type, protocol), so every later message between the same two
  parties lands on the same record (first metadata wins) while the events count them.
"""

import hashlib
import json
from dataclasses import dataclass

from contracts.commands import ConnectionCreate, EventPublish
from contracts.protocols.envelope import ProtocolEnvelope
from contracts.protocols.mapping import ProtocolMapping


@dataclass(frozen=True, slots=True)
class ProtocolRecords:
    event: EventPublish
    related_events: tuple[EventPublish, ...]
    connection: ConnectionCreate | None


def connection_id(from_id: str, to_id: str, relationship_type: str, protocol: str) -> str:
    """The id of the consolidated connection between two parties over one protocol."""
    key = json.dumps([from_id, to_id, relationship_type, protocol], separators=(",", ":"))
    return "pc-" + hashlib.sha256(key.encode()).hexdigest()[:40]


def protocol_records(
    tenant: str, envelope: ProtocolEnvelope, mapping: ProtocolMapping, *, received_at_ms: int
) -> ProtocolRecords:
    """Build the event (and related events and connection) for one protocol message.

    Raises pydantic.ValidationError (a ValueError) if `tenant` is not a tenant token.
    """
    timestamp = envelope.timestamp
    correlation = {"correlationId": envelope.correlationId} if envelope.correlationId else {}
    if timestamp is None:
        timestamp = mapping.timestamp_ms if mapping.timestamp_ms is not None else received_at_ms
    event = EventPublish(
        groupId=tenant,
        id=envelope.recordId,
        type=mapping.event_type,
        actorId=envelope.actorId,
        targetId=envelope.targetId,
        timestamp=timestamp,
        metadata={**mapping.metadata, **correlation},
    )
    related = tuple(
        EventPublish(
            groupId=tenant,
            id=f"{envelope.recordId}:{extra.key}",
            type=extra.event_type,
            actorId=envelope.actorId,
            targetId=envelope.targetId,
            timestamp=timestamp,
            metadata={**extra.metadata, **correlation, "sourceEventId": envelope.recordId},
        )
        for extra in mapping.related_events
    )
    connection = None
    if mapping.connection is not None and envelope.targetId is not None:
        ends = (envelope.actorId, envelope.targetId)
        from_id, to_id = ends if mapping.connection.direction == "actor_to_target" else ends[::-1]
        connection = ConnectionCreate(
            groupId=tenant,
            id=connection_id(
                from_id, to_id, mapping.connection.relationship_type, mapping.protocol
            ),
            fromEntityId=from_id,
            toEntityId=to_id,
            relationshipType=mapping.connection.relationship_type,
            metadata=dict(mapping.connection.metadata),
            createdAt=timestamp,
        )
    return ProtocolRecords(event=event, related_events=related, connection=connection)

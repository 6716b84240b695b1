"""What a protocol message means in the ontology, as each protocol module states it.

A protocol module turns a validated message into a `Meaning`; `mapping.py` adds what
every mapping shares (protocol, message type, payload) and checks the result against the
ontology's metadata rules.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from contracts.ontology import EventType

ProtocolRelationship = Literal["communicated", "delegated", "transacted", "approved", "fulfilled"]

Direction = Literal["actor_to_target", "target_to_actor"]


@dataclass(frozen=True, slots=True)
class ProtocolConnection:
    """The consolidated connection a message implies between its actor and its target.

    `direction` says which envelope entity is `fromEntityId`: a task status report is sent
    by the agent (the actor) but the delegation runs from the client (the target) to it.
    `metadata` holds the variant keys; `protocol` and `messageType` are added by the mapping.
    """

    relationship_type: ProtocolRelationship
    metadata: Mapping[str, Any] = field(default_factory=dict)
    direction: Direction = "actor_to_target"


@dataclass(frozen=True, slots=True)
class RelatedEvent:
    """A second event the same message stands for (an ACP completion is also a payment).

    `key` names it among the message's events; its record id is `<record id>:<key>`.
    """

    key: str
    event_type: EventType
    metadata: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Meaning:
    """One protocol module's reading of one message.

    `variant` holds the metadata keys the event type's rule needs plus the protocol's own
    state (`rawState`) and anything else worth querying; `correlation` the protocol ids
    that tie a message to its siblings (task, checkout, mandate). `actor_ref`/`target_ref`
    are the protocol's own names for the two parties (a wallet address, a merchant id),
    never ONE entity ids. `stored_payload` replaces the message in the stored record when
    the bus must not keep it verbatim (card numbers).
    """

    event_type: EventType
    variant: Mapping[str, Any]
    correlation: Mapping[str, str] = field(default_factory=dict)
    actor_ref: str | None = None
    target_ref: str | None = None
    timestamp_ms: int | None = None
    wire_version: str | None = None
    connection: ProtocolConnection | None = None
    related: tuple[RelatedEvent, ...] = ()
    stored_payload: Mapping[str, Any] | None = None


Handler = Callable[[dict[str, Any]], Meaning]
"""Validates one message type's payload and says what it means; raises ValueError."""


def present(**values: str | None) -> dict[str, str]:
    """The given correlation keys that have a non-empty value."""
    return {key: value for key, value in values.items() if value}

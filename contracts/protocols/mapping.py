"""A raw protocol message as the ontology records it (docs/protocols.md).

`map_protocol_message` is what ingest calls for `one.v1.<tenant>.protocols.<protocol>.
<messageType>`; `validate_protocol_payload` is what it calls for an ontology event or
connection published directly with a known `metadata.protocol` and a `metadata.payload`.
Both are pure and raise ValueError (`ProtocolMessageError`) on bad input.

Known protocols (a2a, acp, ap2, x402, ag-ui) get typed validation and a specific event;
any other protocol name is accepted as is (the seed's "add new protocols without schema
changes") and stored as a `communication_event` with its payload unvalidated.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import TypeAdapter, ValidationError

from contracts.json_values import JsonObject
from contracts.metadata_rules import (
    KNOWN_PROTOCOLS,
    ProtocolName,
    check_connection_metadata,
    check_event_metadata,
)
from contracts.ontology import EventType
from contracts.protocols import a2a, acp, ag_ui, ap2, x402
from contracts.protocols.meaning import (
    Handler,
    Meaning,
    ProtocolConnection,
    RelatedEvent,
)
from contracts.subjects import TOKEN_RE

# Each known protocol's handlers are in the module named for it (`ag-ui`: ag_ui.py); the
# names are KNOWN_PROTOCOLS', spelled there only.
_MODULES: Final = {
    module.__name__.rpartition(".")[2]: module for module in (a2a, acp, ag_ui, ap2, x402)
}
PROTOCOL_HANDLERS: Final[Mapping[str, Mapping[str, Handler]]] = {
    protocol: _MODULES[protocol.replace("-", "_")].HANDLERS for protocol in KNOWN_PROTOCOLS
}

_MAX_LISTED_ERRORS: Final = 5
_protocol_name: Final = TypeAdapter(ProtocolName)
_json_object: Final = TypeAdapter(JsonObject)


class ProtocolMessageError(ValueError):
    """The message is not a valid message of its protocol and message type."""


@dataclass(frozen=True, slots=True)
class ProtocolMapping:
    """What one protocol message becomes in the ontology.

    - `event_type`, `metadata`: the event. `metadata` holds `protocol`, `messageType`,
      the variant keys its rule needs (`action`, `status`, `mandateType`, `eventType`),
      the protocol's own state as `rawState` where the message has one (and
      `outcome: "failed"` plus `reason` where the seed has no failed value), the
      `correlation` keys, `wireVersion` where the body tells it, `actorRef`/`targetRef`,
      and `payload`: the message as published (card secrets removed, see acp.py).
    - `actor_ref`, `target_ref`: the protocol's own names for the two parties, when the
      payload has them (a wallet address, a merchant id). They are not ONE entity ids and
      are never used as `actorId`: ONE ids come from the envelope (envelope.py).
    - `timestamp_ms`: the message's own time, if it has one (fallback for the envelope's).
    - `connection`: the consolidated connection between actor and target, its metadata
      complete and checked; recorded only when the envelope names a target.
    - `related_events`: further events the message also stands for (metadata complete).
    - `validated`: False for a protocol ONE Bus has no models for.
    """

    protocol: str
    message_type: str
    event_type: EventType
    metadata: dict[str, Any]
    correlation: dict[str, str]
    actor_ref: str | None
    target_ref: str | None
    timestamp_ms: int | None
    connection: ProtocolConnection | None
    related_events: tuple[RelatedEvent, ...]
    validated: bool


def known_message_types(protocol: str) -> tuple[str, ...]:
    """The message types ONE Bus validates for a known protocol; () for any other."""
    return tuple(PROTOCOL_HANDLERS.get(protocol, {}))


def _protocol(protocol: str) -> str:
    try:
        return _protocol_name.validate_python(protocol)
    except ValidationError as error:
        raise ProtocolMessageError(
            f"protocol {protocol!r} is not a protocol name ([A-Za-z0-9][A-Za-z0-9._-]{{0,63}})"
        ) from error


def _checked_object(payload: object, protocol: str, message_type: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ProtocolMessageError(
            f"a {protocol} {message_type} body must be a JSON object, not {type(payload).__name__}"
        )
    try:
        return _json_object.validate_python(payload)
    except ValidationError as error:
        raise ProtocolMessageError(
            f"a {protocol} {message_type} body cannot be stored: {_describe(error)}"
        ) from error


def _describe(error: ValueError) -> str:
    if not isinstance(error, ValidationError):
        return str(error)
    problems = error.errors()
    listed = []
    for problem in problems[:_MAX_LISTED_ERRORS]:
        where = ".".join(str(part) for part in problem["loc"]) or "(message)"
        listed.append(f"{where}: {problem['msg'].removeprefix('Value error, ')}")
    more = len(problems) - _MAX_LISTED_ERRORS
    return "; ".join(listed) + (f"; and {more} more" if more > 0 else "")


def _handler(protocol: str, message_type: str) -> Handler:
    handlers = PROTOCOL_HANDLERS[protocol]
    if message_type not in handlers:
        raise ProtocolMessageError(
            f"{message_type!r} is not a known {protocol} message type; known: {', '.join(handlers)}"
        )
    return handlers[message_type]


def _meaning(protocol: str, message_type: str, payload: dict[str, Any]) -> Meaning:
    handler = _handler(protocol, message_type)
    try:
        return handler(payload)
    except ValueError as error:
        raise ProtocolMessageError(
            f"not a valid {protocol} {message_type}: {_describe(error)}"
        ) from error


def validate_protocol_payload(
    protocol: str, message_type: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Check `metadata.payload` of a directly published event or connection.

    Returns the payload to store: the message as given (with card secrets removed from an
    ACP `delegate_payment`), after checking it is a storable JSON object and, for a known
    protocol, a valid message of `message_type`. Raises ProtocolMessageError.
    """
    name = _protocol(protocol)
    checked = _checked_object(payload, name, message_type)
    if name not in PROTOCOL_HANDLERS:
        return checked
    meaning = _meaning(name, message_type, checked)
    return dict(meaning.stored_payload) if meaning.stored_payload is not None else checked


# Of a message in an unknown protocol nothing is known but that the actor sent it to the
# target.
_UNKNOWN_PROTOCOL: Final = Meaning(
    event_type="communication_event",
    variant={},
    connection=ProtocolConnection("communicated"),
)


def map_protocol_message(
    protocol: str, message_type: str, payload: dict[str, Any]
) -> ProtocolMapping:
    """Map a raw protocol message onto the ontology event (and connection) it means.

    `protocol` and `message_type` are the subject's last two tokens. Raises
    ProtocolMessageError for a malformed name, a body that is not a storable JSON object,
    an unknown message type of a known protocol, or a message its models reject.
    """
    name = _protocol(protocol)
    if TOKEN_RE.fullmatch(message_type) is None:
        raise ProtocolMessageError(
            f"message type {message_type!r} is not one subject token ([A-Za-z0-9_-]{{1,128}})"
        )
    checked = _checked_object(payload, name, message_type)
    known = name in PROTOCOL_HANDLERS
    meaning = _meaning(name, message_type, checked) if known else _UNKNOWN_PROTOCOL
    shared = {"protocol": name, "messageType": message_type}
    references = {
        key: value
        for key, value in (("actorRef", meaning.actor_ref), ("targetRef", meaning.target_ref))
        if value
    }
    version = {"wireVersion": meaning.wire_version} if meaning.wire_version else {}
    stored = dict(meaning.stored_payload) if meaning.stored_payload is not None else checked
    metadata = check_event_metadata(
        meaning.event_type,
        {
            **shared,
            **meaning.variant,
            **meaning.correlation,
            **version,
            **references,
            "payload": stored,
        },
    )
    connection = None
    if meaning.connection is not None:
        connection_metadata = check_connection_metadata(
            meaning.connection.relationship_type,
            # No correlation keys: one connection stands for every message between the
            # two parties (records.py), so a task or checkout id would be the first one's.
            {**shared, **meaning.connection.metadata},
        )
        connection = ProtocolConnection(
            meaning.connection.relationship_type,
            connection_metadata,
            meaning.connection.direction,
        )
    related = tuple(
        RelatedEvent(
            event.key,
            event.event_type,
            check_event_metadata(
                event.event_type, {**shared, **event.metadata, **meaning.correlation}
            ),
        )
        for event in meaning.related
    )
    return ProtocolMapping(
        protocol=name,
        message_type=message_type,
        event_type=meaning.event_type,
        metadata=metadata,
        correlation=dict(meaning.correlation),
        actor_ref=meaning.actor_ref,
        target_ref=meaning.target_ref,
        timestamp_ms=meaning.timestamp_ms,
        connection=connection,
        related_events=related,
        validated=known,
    )

"""Variant rules for the consolidated connection and event types (docs/storage.md).

A consolidated type carries its variant in `metadata`; each rule below is a pydantic
model of the keys the variant needs. Other metadata keys pass through untouched. The same
tables give the JSON Schema rules (`metadata_schema_rules`), so the exported schemas
state each variant exactly as ingest checks it.
`metadata.protocol` is open: any protocol name is accepted (the seed's promise to add
protocols without schema changes); names are compared and stored in lower case.
"""

from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, TypeAdapter, WithJsonSchema

from contracts.schema_rules import (
    Schema,
    add_rules,
    at_least_one_of,
    case_insensitive,
    inline,
    variants,
)

# The lengths hold once surrounding whitespace is stripped, so the schema says them as a
# pattern around optional whitespace (`maxLength` would count the whitespace too).
Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
    WithJsonSchema({"type": "string", "pattern": r"^\s*\S(?:[\s\S]{0,126}\S)?\s*$"}),
]
ProtocolName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
    ),
    WithJsonSchema({"type": "string", "pattern": r"^\s*[A-Za-z0-9][A-Za-z0-9._-]{0,63}\s*$"}),
]

KNOWN_PROTOCOLS: Final[tuple[str, ...]] = ("a2a", "acp", "ap2", "x402", "ag-ui")


class _Variant(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


# --- connections ---------------------------------------------------------------------


class TransactedMeta(_Variant):
    transactionType: Literal["payment", "subscription", "invoice"]
    protocol: ProtocolName | None = None


class NotifiedMeta(_Variant):
    channel: Literal["email", "sms", "push", "in_app"]
    notificationType: Label | None = None


class ReferredMeta(_Variant):
    referralType: Literal["direct", "conversion", "campaign"]


class CommunicatedMeta(_Variant):
    protocol: ProtocolName
    messageType: Label


class DelegatedMeta(_Variant):
    taskType: Label
    protocol: ProtocolName | None = None


class ApprovedMeta(_Variant):
    approvalType: Label
    protocol: ProtocolName | None = None


class FulfilledMeta(_Variant):
    fulfillmentType: Label
    protocol: ProtocolName | None = None


# --- events ----------------------------------------------------------------------------


class ContentEventMeta(_Variant):
    action: Literal["created", "updated", "deleted", "viewed", "shared", "liked"]


class PaymentEventMeta(_Variant):
    status: Literal["requested", "verified", "processed"]
    protocol: ProtocolName | None = None


class SubscriptionEventMeta(_Variant):
    action: Literal["started", "renewed", "cancelled"]


class CommerceEventMeta(_Variant):
    eventType: Label
    protocol: ProtocolName | None = None


LIVESTREAM_NEEDS_ONE_OF: Final = ("status", "action")


def _status_or_action(schema: Schema) -> None:
    add_rules(schema, at_least_one_of(*LIVESTREAM_NEEDS_ONE_OF))


class LivestreamEventMeta(_Variant):
    """A stream's own life (`status`) or a viewer's act (`action`); at least one."""

    model_config = ConfigDict(json_schema_extra=_status_or_action)

    status: Literal["started", "ended"] | None = None
    action: Literal["joined", "left", "chat", "donation"] | None = None

    def model_post_init(self, context: Any, /) -> None:
        if all(getattr(self, name) is None for name in LIVESTREAM_NEEDS_ONE_OF):
            raise ValueError("livestream_event metadata needs `status` or `action`")


class NotificationEventMeta(_Variant):
    channel: Literal["email", "sms", "push", "in_app"]
    deliveryStatus: Label | None = None


class ReferralEventMeta(_Variant):
    action: Literal["created", "completed", "rewarded"]


class CommunicationEventMeta(_Variant):
    protocol: ProtocolName
    messageType: Label


class TaskEventMeta(_Variant):
    action: Literal["delegated", "completed", "failed"]
    protocol: ProtocolName | None = None


class MandateEventMeta(_Variant):
    mandateType: Literal["intent", "cart"]
    protocol: ProtocolName | None = None


class PriceEventMeta(_Variant):
    action: Literal["checked", "changed"]


CONNECTION_VARIANTS: Final[dict[str, type[_Variant]]] = {
    "transacted": TransactedMeta,
    "notified": NotifiedMeta,
    "referred": ReferredMeta,
    "communicated": CommunicatedMeta,
    "delegated": DelegatedMeta,
    "approved": ApprovedMeta,
    "fulfilled": FulfilledMeta,
}

EVENT_VARIANTS: Final[dict[str, type[_Variant]]] = {
    "content_event": ContentEventMeta,
    "payment_event": PaymentEventMeta,
    "subscription_event": SubscriptionEventMeta,
    "commerce_event": CommerceEventMeta,
    "livestream_event": LivestreamEventMeta,
    "notification_event": NotificationEventMeta,
    "referral_event": ReferralEventMeta,
    "communication_event": CommunicationEventMeta,
    "task_event": TaskEventMeta,
    "mandate_event": MandateEventMeta,
    "price_event": PriceEventMeta,
}

_protocol_adapter: Final = TypeAdapter(ProtocolName)


def _checked(rule: type[_Variant] | None, metadata: dict[str, Any]) -> dict[str, Any]:
    if rule is not None:
        rule.model_validate(metadata)
    if metadata.get("protocol") is not None:
        return {**metadata, "protocol": _protocol_adapter.validate_python(metadata["protocol"])}
    return metadata


def check_connection_metadata(relationship_type: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """Validate a connection's metadata against its variant rule; raise ValueError if bad."""
    return _checked(CONNECTION_VARIANTS.get(relationship_type), metadata)


def check_event_metadata(event_type: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """Validate an event's metadata against its variant rule; raise ValueError if bad."""
    return _checked(EVENT_VARIANTS.get(event_type), metadata)


def metadata_schema_rules(type_field: str, table: Mapping[str, type[_Variant]]) -> list[Schema]:
    """JSON Schema rules for a payload whose `type_field` picks a variant of `metadata`:
    each variant's keys, `metadata.protocol` a protocol name wherever it is given, and a
    known protocol's `payload` naming its `messageType` (contracts/protocols/direct.py)."""
    rules = variants(
        type_field, {name: inline(rule.model_json_schema()) for name, rule in table.items()},
        "metadata",
    )  # fmt: skip
    protocol = TypeAdapter(ProtocolName).json_schema()
    known = {"type": "string", "pattern": case_insensitive(KNOWN_PROTOCOLS, padded=True)}
    payload_rule = {
        "if": {
            "required": ["protocol", "payload"],
            "properties": {"protocol": known, "payload": {}},
        },
        "then": {
            "required": ["messageType"],
            "properties": {"messageType": {"type": "string"}, "payload": {"type": "object"}},
        },
    }
    common = {"properties": {"protocol": {"anyOf": [protocol, {"type": "null"}]}}}
    metadata = {"anyOf": [{"type": "null"}, {"type": "object", "allOf": [common, payload_rule]}]}
    rules.append({"properties": {"metadata": metadata}})
    return rules

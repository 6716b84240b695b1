"""Consolidated types carry their variant in metadata, and the variant is checked."""

from typing import Any

import pytest
from pydantic import ValidationError

from contracts.metadata_rules import (
    CONNECTION_VARIANTS,
    EVENT_VARIANTS,
    check_connection_metadata,
    check_event_metadata,
)

VALID_CONNECTIONS: list[tuple[str, dict[str, Any]]] = [
    ("transacted", {"transactionType": "payment"}),
    ("transacted", {"transactionType": "subscription", "protocol": "x402"}),
    ("transacted", {"transactionType": "invoice"}),
    ("notified", {"channel": "email"}),
    ("notified", {"channel": "in_app", "notificationType": "digest"}),
    ("referred", {"referralType": "direct"}),
    ("referred", {"referralType": "conversion"}),
    ("referred", {"referralType": "campaign"}),
    ("communicated", {"protocol": "a2a", "messageType": "Message"}),
    ("delegated", {"taskType": "research", "protocol": "a2a"}),
    ("approved", {"approvalType": "purchase", "protocol": "ap2"}),
    ("fulfilled", {"fulfillmentType": "shipping", "protocol": "acp"}),
]

INVALID_CONNECTIONS: list[tuple[str, dict[str, Any]]] = [
    ("transacted", {}),
    ("transacted", {"transactionType": "refund"}),
    ("notified", {"channel": "fax"}),
    ("notified", {"notificationType": "digest"}),
    ("referred", {"referralType": "viral"}),
    ("communicated", {"protocol": "a2a"}),
    ("communicated", {"messageType": "Message"}),
    ("communicated", {"protocol": "a2a", "messageType": ""}),
    ("delegated", {"protocol": "a2a"}),
    ("approved", {"approvalType": 3}),
    ("fulfilled", {}),
    ("transacted", {"transactionType": "payment", "protocol": "has space"}),
]

VALID_EVENTS: list[tuple[str, dict[str, Any]]] = [
    *[
        ("content_event", {"action": a})
        for a in ("created", "updated", "deleted", "viewed", "shared", "liked")
    ],
    *[
        ("payment_event", {"status": s, "protocol": "x402"})
        for s in ("requested", "verified", "processed")
    ],
    *[("subscription_event", {"action": a}) for a in ("started", "renewed", "cancelled")],
    ("commerce_event", {"eventType": "checkout_created", "protocol": "acp"}),
    ("livestream_event", {"status": "started"}),
    ("livestream_event", {"action": "donation", "amount": 5}),
    ("livestream_event", {"status": "ended", "action": "left"}),
    ("notification_event", {"channel": "sms", "deliveryStatus": "delivered"}),
    *[("referral_event", {"action": a}) for a in ("created", "completed", "rewarded")],
    ("communication_event", {"protocol": "ag-ui", "messageType": "TEXT_MESSAGE_END"}),
    *[
        ("task_event", {"action": a, "protocol": "a2a"})
        for a in ("delegated", "completed", "failed")
    ],
    ("mandate_event", {"mandateType": "intent", "protocol": "ap2"}),
    ("mandate_event", {"mandateType": "cart"}),
    ("price_event", {"action": "checked"}),
    ("price_event", {"action": "changed"}),
]

INVALID_EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("content_event", {"action": "printed"}),
    ("content_event", {}),
    ("payment_event", {"status": "completed"}),
    ("payment_event", {"status": "processed", "protocol": 42}),
    ("subscription_event", {"action": "canceled"}),
    ("commerce_event", {"protocol": "acp"}),
    ("livestream_event", {}),
    ("livestream_event", {"status": "paused"}),
    ("livestream_event", {"action": "clapped"}),
    ("notification_event", {"deliveryStatus": "sent"}),
    ("referral_event", {"action": "expired"}),
    ("communication_event", {"protocol": "a2a"}),
    ("task_event", {"action": "working"}),
    ("mandate_event", {"mandateType": "payment"}),
    ("price_event", {"action": "dropped"}),
]


def test_every_consolidated_type_has_a_rule() -> None:
    assert set(CONNECTION_VARIANTS) == {
        "transacted",
        "notified",
        "referred",
        "communicated",
        "delegated",
        "approved",
        "fulfilled",
    }
    assert len(EVENT_VARIANTS) == 11
    covered = {t for t, _ in VALID_EVENTS} | {t for t, _ in INVALID_EVENTS}
    assert covered == set(EVENT_VARIANTS)
    assert {t for t, _ in VALID_CONNECTIONS} == set(CONNECTION_VARIANTS)


@pytest.mark.parametrize(("relationship", "metadata"), VALID_CONNECTIONS)
def test_valid_connection_variants_pass(relationship: str, metadata: dict[str, Any]) -> None:
    assert check_connection_metadata(relationship, metadata) == metadata


@pytest.mark.parametrize(("relationship", "metadata"), INVALID_CONNECTIONS)
def test_invalid_connection_variants_are_refused(
    relationship: str, metadata: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        check_connection_metadata(relationship, metadata)


@pytest.mark.parametrize(("event_type", "metadata"), VALID_EVENTS)
def test_valid_event_variants_pass(event_type: str, metadata: dict[str, Any]) -> None:
    assert check_event_metadata(event_type, metadata) == metadata


@pytest.mark.parametrize(("event_type", "metadata"), INVALID_EVENTS)
def test_invalid_event_variants_are_refused(event_type: str, metadata: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        check_event_metadata(event_type, metadata)


def test_unknown_protocols_are_accepted_and_lower_cased() -> None:
    metadata = {"status": "processed", "protocol": "Lightning", "invoice": "lnbc1"}
    assert check_event_metadata("payment_event", metadata) == {
        "status": "processed",
        "protocol": "lightning",
        "invoice": "lnbc1",
    }


def test_other_metadata_keys_pass_through() -> None:
    metadata = {"action": "viewed", "durationMs": 1200, "nested": {"a": [1, 2]}}
    assert check_event_metadata("content_event", metadata) == metadata


def test_specific_types_have_free_metadata() -> None:
    assert check_event_metadata("user_login", {"ip": "10.0.0.1"}) == {"ip": "10.0.0.1"}
    assert check_connection_metadata("owns", {}) == {}

"""ACP (Agentic Commerce Protocol) 2026-04-17 and 2025-09-29 messages on the bus."""

import pytest

from contracts.protocols import (
    ProtocolMessageError,
    map_protocol_message,
    validate_protocol_payload,
)
from tests.contracts.protocols.sample_files import (
    Expected,
    Rejected,
    check_sample,
    load,
)

PROTOCOL = "acp"
SESSION = "cs_01HV3P3XYZ9ABC"

GOOD: dict[str, Expected] = {
    # 2026-04-17
    "v20260417_create_checkout_session.json": Expected(
        "create_checkout_session",
        "commerce_event",
        {
            "eventType": "checkout_created",
            "rawState": "not_ready_for_payment",
            "checkoutSessionId": SESSION,
        },
    ),
    "v20260417_update_checkout_session_ready.json": Expected(
        "update_checkout_session",
        "commerce_event",
        {"eventType": "checkout_updated", "rawState": "ready_for_payment"},
    ),
    "v20260417_complete_checkout_session_completed.json": Expected(
        "complete_checkout_session",
        "commerce_event",
        {"eventType": "checkout_completed", "rawState": "completed", "orderId": "ord_01HV3Q0A7B"},
        "transacted",
    ),
    "v20260417_complete_checkout_session_authentication_required.json": Expected(
        "complete_checkout_session",
        "commerce_event",
        {"eventType": "checkout_updated", "rawState": "authentication_required"},
    ),
    "v20260417_cancel_checkout_session.json": Expected(
        "cancel_checkout_session",
        "commerce_event",
        {"eventType": "checkout_canceled", "rawState": "canceled"},
    ),
    "v20260417_order_update_delivered.json": Expected(
        "order_update",
        "commerce_event",
        {"eventType": "order_updated", "rawState": "delivered", "orderId": "ord_01HV3Q0A7B"},
        "fulfilled",
    ),
    "v20260417_delegate_payment.json": Expected(
        "delegate_payment",
        "payment_event",
        {"status": "requested", "checkoutSessionId": SESSION, "targetRef": "acme_shoes"},
        "approved",
    ),
    # 2025-09-29
    "v20250929_create_checkout_session.json": Expected(
        "create_checkout_session",
        "commerce_event",
        {"eventType": "checkout_created", "checkoutSessionId": "checkout_session_123"},
    ),
    "v20250929_complete_checkout_session.json": Expected(
        "complete_checkout_session",
        "commerce_event",
        {"eventType": "checkout_completed", "orderId": "order_123"},
        "transacted",
    ),
    "v20250929_order_create.json": Expected(
        "order_create",
        "commerce_event",
        {"eventType": "order_created", "rawState": "created"},
    ),
    "v20250929_delegate_payment.json": Expected(
        "delegate_payment", "payment_event", {"status": "requested"}, "approved"
    ),
}

MALFORMED: dict[str, Rejected] = {
    "malformed/create_checkout_session_bad_status.json": Rejected(
        "create_checkout_session", "status: Input should be 'not_ready_for_payment'"
    ),
    "malformed/update_checkout_session_missing_totals.json": Rejected(
        "update_checkout_session", "totals: Field required"
    ),
    "malformed/create_checkout_session_line_item_without_amounts.json": Rejected(
        "create_checkout_session", "line_items.0: a line item needs `quantity` and `totals`"
    ),
    "malformed/create_checkout_session_amount_string.json": Rejected(
        "create_checkout_session", "totals.0.amount: Input should be a valid integer"
    ),
    "malformed/create_checkout_session_error_without_code.json": Rejected(
        "create_checkout_session", "messages.0: error messages need `code`"
    ),
    "malformed/order_update_type_mismatch.json": Rejected(
        "order_update", "`type` is 'order_create'; this subject carries 'order_update'"
    ),
    "malformed/order_update_bad_status.json": Rejected(
        "order_update", "data.status: Input should be 'created'"
    ),
    "malformed/delegate_payment_bad_reason.json": Rejected(
        "delegate_payment", "allowance.reason: Input should be 'one_time'"
    ),
}


@pytest.mark.parametrize(
    "name",
    [
        "v20260417_complete_checkout_session_completed.json",
        "v20250929_complete_checkout_session.json",
    ],
)
def test_a_completed_checkout_with_an_order_is_also_a_processed_payment(name: str) -> None:
    mapping = check_sample(PROTOCOL, name, GOOD[name])
    (payment,) = mapping.related_events
    assert payment.key == "payment"
    assert payment.event_type == "payment_event"
    assert payment.metadata["status"] == "processed"
    assert payment.metadata["protocol"] == "acp"
    assert payment.metadata["orderId"] == mapping.metadata["orderId"]
    assert mapping.connection is not None
    assert mapping.connection.metadata["transactionType"] == "payment"


def test_a_pending_completion_is_no_payment() -> None:
    name = "v20260417_complete_checkout_session_authentication_required.json"
    assert check_sample(PROTOCOL, name, GOOD[name]).related_events == ()


@pytest.mark.parametrize(
    "name", ["v20260417_delegate_payment.json", "v20250929_delegate_payment.json"]
)
def test_card_secrets_never_reach_the_stored_payload(name: str) -> None:
    published = load(PROTOCOL, name)
    mapping = check_sample(PROTOCOL, name, GOOD[name])
    stored = mapping.metadata["payload"]
    assert "number" in published["payment_method"]
    for secret in ("number", "cvc", "cryptogram"):
        assert secret not in stored["payment_method"]
    assert "payment_method.number" in mapping.metadata["redacted"]
    assert stored["allowance"] == published["allowance"]
    assert validate_protocol_payload(PROTOCOL, "delegate_payment", published) == stored


def test_the_session_update_time_becomes_the_message_time() -> None:
    name = "v20260417_update_checkout_session_ready.json"
    assert check_sample(PROTOCOL, name, GOOD[name]).timestamp_ms == 1777896190000


def test_a_request_body_is_not_a_checkout_session() -> None:
    request = {
        "line_items": [{"id": "sku_1", "quantity": 1}],
        "currency": "usd",
        "capabilities": {},
    }
    with pytest.raises(ProtocolMessageError, match="id: Field required"):
        map_protocol_message(PROTOCOL, "create_checkout_session", request)


def test_ibm_agent_communication_protocol_runs_are_not_acp() -> None:
    with pytest.raises(ProtocolMessageError, match="known: create_checkout_session"):
        map_protocol_message(PROTOCOL, "runs", {"run_id": "r1", "status": "created"})

"""x402 protocol v2 and v1 messages on the bus."""

import pytest

from contracts.protocols import ProtocolMessageError, map_protocol_message
from tests.contracts.protocols.sample_files import (
    Expected,
    Rejected,
    check_sample,
    load,
)

PROTOCOL = "x402"
PAYER = "0x857b06519E91e3A54538791bDbb0E22373e36b66"
PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
RESOURCE = "https://api.example.com/premium-data"

GOOD: dict[str, Expected] = {
    "v2_payment_required.json": Expected(
        "PaymentRequired",
        "payment_event",
        {
            "status": "requested",
            "rawState": "payment-required",
            "resource": RESOURCE,
            "network": "eip155:84532",
            "actorRef": PAY_TO,
            "wireVersion": "2",
        },
    ),
    "v2_payment_payload.json": Expected(
        "PaymentPayload",
        "payment_event",
        {
            "status": "requested",
            "rawState": "payment-submitted",
            "actorRef": PAYER,
            "targetRef": PAY_TO,
        },
    ),
    "v2_verify_response_valid.json": Expected(
        "VerifyResponse",
        "payment_event",
        {"status": "verified", "rawState": "payment-verified", "targetRef": PAYER},
    ),
    "v2_verify_response_invalid.json": Expected(
        "VerifyResponse",
        "payment_event",
        {
            "status": "requested",
            "rawState": "payment-rejected",
            "outcome": "failed",
            "reason": "insufficient_funds",
        },
    ),
    "v2_settle_response_success.json": Expected(
        "SettleResponse",
        "payment_event",
        {"status": "processed", "rawState": "payment-completed", "network": "eip155:84532"},
        "transacted",
    ),
    "v2_settle_response_failed.json": Expected(
        "SettleResponse",
        "payment_event",
        {"status": "requested", "outcome": "failed", "reason": "invalid_transaction_state"},
    ),
    "v1_payment_required.json": Expected(
        "PaymentRequired",
        "payment_event",
        {
            "status": "requested",
            "resource": RESOURCE,
            "network": "base-sepolia",
            "wireVersion": "1",
        },
    ),
    "v1_payment_payload.json": Expected(
        "PaymentPayload",
        "payment_event",
        {
            "status": "requested",
            "rawState": "payment-submitted",
            "actorRef": PAYER,
            "wireVersion": "1",
        },
    ),
    "v1_settle_response_success.json": Expected(
        "SettleResponse",
        "payment_event",
        {"status": "processed", "network": "base-sepolia"},
        "transacted",
    ),
}

MALFORMED: dict[str, Rejected] = {
    "malformed/v2_payment_required_no_accepts.json": Rejected(
        "PaymentRequired", "accepts: List should have at least 1 item"
    ),
    "malformed/v2_payment_required_v1_field_names.json": Rejected(
        "PaymentRequired", "accepts.0.amount: Field required"
    ),
    "malformed/v1_payment_required_missing_resource.json": Rejected(
        "PaymentRequired", "accepts.0.resource: Field required"
    ),
    "malformed/payment_payload_unknown_version.json": Rejected(
        "PaymentPayload", "`x402Version` must be 1 or 2, not 3"
    ),
    "malformed/v2_payment_payload_value_not_atomic.json": Rejected(
        "PaymentPayload", "authorization.value: String should match pattern"
    ),
    "malformed/settle_response_success_as_string.json": Rejected(
        "SettleResponse", "success: Input should be a valid boolean"
    ),
    "malformed/verify_response_missing_is_valid.json": Rejected(
        "VerifyResponse", "isValid: Field required"
    ),
}


def test_a_settled_payment_runs_from_the_payer_to_the_resource_server() -> None:
    name = "v2_settle_response_success.json"
    mapping = check_sample(PROTOCOL, name, GOOD[name])
    assert mapping.connection is not None
    assert mapping.connection.direction == "target_to_actor"
    assert mapping.connection.metadata["transactionType"] == "payment"


def test_a_version_flag_that_is_a_boolean_is_not_version_1() -> None:
    payload = {**load(PROTOCOL, "v1_payment_required.json"), "x402Version": True}
    with pytest.raises(ProtocolMessageError, match="must be 1 or 2"):
        map_protocol_message(PROTOCOL, "PaymentRequired", payload)


def test_a_scheme_other_than_exact_evm_passes_its_payload_through() -> None:
    payload = {
        "x402Version": 2,
        "accepted": {
            **load(PROTOCOL, "v2_payment_payload.json")["accepted"],
            "network": "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
            "scheme": "exact",
        },
        "payload": {"transaction": "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
    }
    mapping = map_protocol_message(PROTOCOL, "PaymentPayload", payload)
    assert mapping.actor_ref is None
    assert mapping.target_ref == PAY_TO

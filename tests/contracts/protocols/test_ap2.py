"""AP2 (Agent Payments Protocol) v0.2 and v0.1 messages on the bus."""

import pytest

from contracts.protocols import ProtocolMessageError, map_protocol_message
from tests.contracts.protocols.sample_files import (
    Expected,
    Rejected,
    check_sample,
    load,
)

PROTOCOL = "ap2"
CHECKOUT_HASH = "Xq3v0bN2mJ9pQ8tR7uW6yZ5aB4cD3eF2gH1iJ0kL9mM"

GOOD: dict[str, Expected] = {
    # v0.1: the seed's intent | cart
    "v01_intent_mandate.json": Expected(
        "IntentMandate",
        "mandate_event",
        {"mandateType": "intent", "wireVersion": "0.1"},
        "approved",
    ),
    "v01_intent_mandate_a2a_datapart.json": Expected(
        "IntentMandate", "mandate_event", {"mandateType": "intent"}, "approved"
    ),
    "v01_cart_mandate.json": Expected(
        "CartMandate",
        "mandate_event",
        {"mandateType": "cart", "cartId": "cart_shoes_7f3c", "targetRef": "Generic Merchant"},
        "approved",
    ),
    "v01_payment_mandate.json": Expected(
        "PaymentMandate",
        "payment_event",
        {"status": "requested", "paymentMandateId": "pm_2c1f9e4a", "wireVersion": "0.1"},
        "approved",
    ),
    # v0.2: SD-JWT mandates by vct
    "v02_checkout_mandate.json": Expected(
        "CheckoutMandate",
        "mandate_event",
        {"mandateType": "cart", "vct": "mandate.checkout.1", "transactionId": CHECKOUT_HASH},
        "approved",
    ),
    "v02_open_checkout_mandate.json": Expected(
        "OpenCheckoutMandate",
        "mandate_event",
        {"mandateType": "intent", "vct": "mandate.checkout.open.1"},
        "approved",
    ),
    "v02_payment_mandate.json": Expected(
        "PaymentMandate",
        "payment_event",
        {"status": "requested", "transactionId": CHECKOUT_HASH, "targetRef": "merchant_nike"},
        "approved",
    ),
    "v02_open_payment_mandate.json": Expected(
        "OpenPaymentMandate",
        "mandate_event",
        {"mandateType": "intent", "vct": "mandate.payment.open.1", "wireVersion": "0.2"},
        "approved",
    ),
    "v02_checkout_receipt_success.json": Expected(
        "CheckoutReceipt",
        "commerce_event",
        {"eventType": "checkout_completed", "rawState": "Success", "orderId": "ord_9912"},
    ),
    "v02_payment_receipt_success.json": Expected(
        "PaymentReceipt",
        "payment_event",
        {"status": "processed", "rawState": "Success", "paymentId": "pay_88f1"},
    ),
    "v02_payment_receipt_error.json": Expected(
        "PaymentReceipt",
        "payment_event",
        {
            "status": "requested",
            "rawState": "Error",
            "outcome": "failed",
            "reason": "insufficient_funds",
        },
    ),
}

MALFORMED: dict[str, Rejected] = {
    "malformed/v01_intent_mandate_missing_description.json": Rejected(
        "IntentMandate", "natural_language_description: Field required"
    ),
    "malformed/v01_cart_mandate_missing_merchant.json": Rejected(
        "CartMandate", "contents.merchant_name: Field required"
    ),
    "malformed/v02_checkout_mandate_wrong_vct.json": Rejected(
        "CheckoutMandate", "vct: Input should be 'mandate.checkout.1'"
    ),
    "malformed/v02_payment_mandate_amount_string.json": Rejected(
        "PaymentMandate", "payment_amount.amount: Input should be a valid integer"
    ),
    "malformed/v02_payment_receipt_bad_status.json": Rejected(
        "PaymentReceipt", "status: Input should be 'Success' or 'Error'"
    ),
    "malformed/v02_payment_receipt_error_without_code.json": Rejected(
        "PaymentReceipt", "an Error receipt needs `error`"
    ),
}


def test_a_checkout_mandate_and_its_payment_mandate_share_the_transaction_id() -> None:
    checkout = map_protocol_message(
        PROTOCOL, "CheckoutMandate", load(PROTOCOL, "v02_checkout_mandate.json")
    )
    payment = map_protocol_message(
        PROTOCOL, "PaymentMandate", load(PROTOCOL, "v02_payment_mandate.json")
    )
    assert checkout.correlation["transactionId"] == payment.correlation["transactionId"]


def test_a_mandate_published_as_its_a2a_data_part_keeps_that_shape() -> None:
    name = "v01_intent_mandate_a2a_datapart.json"
    mapping = check_sample(PROTOCOL, name, GOOD[name])
    assert set(mapping.metadata["payload"]) == {"ap2.mandates.IntentMandate"}


def test_credential_issue_time_becomes_the_message_time() -> None:
    name = "v02_checkout_mandate.json"
    assert check_sample(PROTOCOL, name, GOOD[name]).timestamp_ms == 1777900800000


def test_a_v01_mandate_under_a_v02_name_is_rejected() -> None:
    with pytest.raises(ProtocolMessageError, match="vct: Field required"):
        map_protocol_message(PROTOCOL, "CheckoutMandate", load(PROTOCOL, "v01_cart_mandate.json"))

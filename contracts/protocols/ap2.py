"""AP2 (Agent Payments Protocol) messages on the bus, v0.2 and v0.1.

v0.2 mandates are SD-JWT credentials; the bus carries their disclosed claims as a JSON
object (the credential's `vct` names its kind), not the compact serialization. Message
types are AP2's object names, since a `vct` (`mandate.checkout.1`) is not a subject token.
A v0.1 mandate may also be published exactly as it rides in an A2A DataPart, under its
key (`{"ap2.mandates.IntentMandate": {...}}`).
"""

from typing import Any, Final, Literal, Self

from pydantic import model_validator

from contracts.protocols.meaning import Handler, Meaning, ProtocolConnection, present
from contracts.protocols.wire import (
    NonEmptyStr,
    WireModel,
    iso_to_epoch_ms,
    seconds_to_epoch_ms,
)

V01: Final = "0.1"
V02: Final = "0.2"

# --- v0.1 ------------------------------------------------------------------------------


class PaymentCurrencyAmount(WireModel):
    currency: NonEmptyStr
    value: float


class PaymentItem(WireModel):
    label: str
    amount: PaymentCurrencyAmount
    pending: bool | None = None
    refund_period: int | None = None


class PaymentMethodData(WireModel):
    supported_methods: NonEmptyStr
    data: dict[str, Any] | None = None


class PaymentDetailsInit(WireModel):
    id: NonEmptyStr
    display_items: list[PaymentItem]
    total: PaymentItem


class PaymentRequest(WireModel):
    """The W3C Payment Request subset AP2 v0.1 carries in a cart."""

    method_data: list[PaymentMethodData]
    details: PaymentDetailsInit
    options: dict[str, Any] | None = None
    shipping_address: dict[str, Any] | None = None


class PaymentResponse(WireModel):
    request_id: NonEmptyStr
    method_name: NonEmptyStr
    details: dict[str, Any] | None = None


class IntentMandate(WireModel):
    natural_language_description: NonEmptyStr
    intent_expiry: NonEmptyStr
    user_cart_confirmation_required: bool = True
    merchants: list[str] | None = None
    skus: list[str] | None = None
    requires_refundability: bool | None = None


class CartContents(WireModel):
    id: NonEmptyStr
    user_cart_confirmation_required: bool
    payment_request: PaymentRequest
    cart_expiry: NonEmptyStr
    merchant_name: NonEmptyStr


class CartMandate(WireModel):
    contents: CartContents
    merchant_authorization: str | None = None


class PaymentMandateContents(WireModel):
    payment_mandate_id: NonEmptyStr
    payment_details_id: NonEmptyStr
    payment_details_total: PaymentItem
    payment_response: PaymentResponse
    merchant_agent: NonEmptyStr
    timestamp: str | None = None


class PaymentMandateV01(WireModel):
    payment_mandate_contents: PaymentMandateContents
    user_authorization: str | None = None


# --- v0.2 ------------------------------------------------------------------------------


class Merchant(WireModel):
    id: NonEmptyStr
    name: NonEmptyStr


class Amount(WireModel):
    """Integer minor units (27999 = 279.99)."""

    amount: int
    currency: NonEmptyStr


class PaymentInstrument(WireModel):
    id: NonEmptyStr
    type: NonEmptyStr


class Constraint(WireModel):
    type: NonEmptyStr


class _Credential(WireModel):
    iat: int | None = None
    exp: int | None = None


class CheckoutMandate(_Credential):
    vct: Literal["mandate.checkout.1"]
    checkout_jwt: NonEmptyStr
    checkout_hash: NonEmptyStr


class OpenCheckoutMandate(_Credential):
    vct: Literal["mandate.checkout.open.1"]
    constraints: list[Constraint]
    cnf: dict[str, Any]


class PaymentMandateV02(_Credential):
    vct: Literal["mandate.payment.1"]
    transaction_id: NonEmptyStr
    payee: Merchant
    payment_amount: Amount
    payment_instrument: PaymentInstrument


class OpenPaymentMandate(_Credential):
    vct: Literal["mandate.payment.open.1"]
    constraints: list[Constraint]
    cnf: dict[str, Any]
    payee: Merchant | None = None


class CheckoutReceipt(WireModel):
    status: Literal["Success", "Error"]
    iss: NonEmptyStr
    iat: int
    reference: NonEmptyStr
    order_id: str | None = None
    error: str | None = None

    @model_validator(mode="after")
    def _error_code(self) -> Self:
        if self.status == "Error" and not self.error:
            raise ValueError("an Error receipt needs `error`")
        return self


class PaymentReceipt(CheckoutReceipt):
    payment_id: NonEmptyStr


# --- meanings --------------------------------------------------------------------------


def _unwrap(payload: dict[str, Any], name: str) -> dict[str, Any]:
    """The mandate inside an A2A DataPart's `ap2.mandates.<name>` key, or the payload."""
    key = f"ap2.mandates.{name}"
    if set(payload) == {key}:
        inner = payload[key]
        if not isinstance(inner, dict):
            raise ValueError(f"`{key}` must be an object")
        return inner
    return payload


def _approval(approval_type: str) -> ProtocolConnection:
    # The actor (the user or their agent) signs the mandate that authorizes the target.
    return ProtocolConnection("approved", {"approvalType": approval_type})


def _intent_mandate(payload: dict[str, Any]) -> Meaning:
    IntentMandate.model_validate(_unwrap(payload, "IntentMandate"))
    return Meaning(
        event_type="mandate_event",
        variant={"mandateType": "intent"},
        wire_version=V01,
        connection=_approval("intent_mandate"),
    )


def _cart_mandate(payload: dict[str, Any]) -> Meaning:
    contents = CartMandate.model_validate(_unwrap(payload, "CartMandate")).contents
    return Meaning(
        event_type="mandate_event",
        variant={"mandateType": "cart"},
        correlation=present(
            cartId=contents.id, paymentRequestId=contents.payment_request.details.id
        ),
        target_ref=contents.merchant_name,
        wire_version=V01,
        connection=_approval("cart_mandate"),
    )


def _checkout_mandate(payload: dict[str, Any]) -> Meaning:
    mandate = CheckoutMandate.model_validate(payload)
    return Meaning(
        event_type="mandate_event",
        variant={"mandateType": "cart", "vct": mandate.vct},
        # A Payment Mandate's transaction_id is this hash: the key that joins the two.
        correlation={"transactionId": mandate.checkout_hash},
        timestamp_ms=seconds_to_epoch_ms(mandate.iat),
        wire_version=V02,
        connection=_approval("checkout_mandate"),
    )


def _open_checkout_mandate(payload: dict[str, Any]) -> Meaning:
    mandate = OpenCheckoutMandate.model_validate(payload)
    return Meaning(
        event_type="mandate_event",
        variant={"mandateType": "intent", "vct": mandate.vct},
        timestamp_ms=seconds_to_epoch_ms(mandate.iat),
        wire_version=V02,
        connection=_approval("open_checkout_mandate"),
    )


def _open_payment_mandate(payload: dict[str, Any]) -> Meaning:
    mandate = OpenPaymentMandate.model_validate(payload)
    return Meaning(
        event_type="mandate_event",
        variant={"mandateType": "intent", "vct": mandate.vct},
        target_ref=mandate.payee.id if mandate.payee else None,
        timestamp_ms=seconds_to_epoch_ms(mandate.iat),
        wire_version=V02,
        connection=_approval("open_payment_mandate"),
    )


def _payment_mandate(payload: dict[str, Any]) -> Meaning:
    """The seed has no payment mandate type: a payment mandate asks for a payment."""
    inner = _unwrap(payload, "PaymentMandate")
    if "vct" in inner:
        mandate = PaymentMandateV02.model_validate(inner)
        return Meaning(
            event_type="payment_event",
            variant={"status": "requested", "vct": mandate.vct},
            correlation={"transactionId": mandate.transaction_id},
            target_ref=mandate.payee.id,
            timestamp_ms=seconds_to_epoch_ms(mandate.iat),
            wire_version=V02,
            connection=_approval("payment_mandate"),
        )
    contents = PaymentMandateV01.model_validate(inner).payment_mandate_contents
    return Meaning(
        event_type="payment_event",
        variant={"status": "requested"},
        correlation=present(
            paymentMandateId=contents.payment_mandate_id,
            paymentRequestId=contents.payment_details_id,
        ),
        target_ref=contents.merchant_agent,
        timestamp_ms=iso_to_epoch_ms(contents.timestamp),
        wire_version=V01,
        connection=_approval("payment_mandate"),
    )


def _failure(receipt: CheckoutReceipt) -> dict[str, Any]:
    if receipt.status == "Success":
        return {"rawState": receipt.status}
    return {"rawState": receipt.status, "outcome": "failed", "reason": receipt.error}


def _checkout_receipt(payload: dict[str, Any]) -> Meaning:
    receipt = CheckoutReceipt.model_validate(payload)
    event = "checkout_completed" if receipt.status == "Success" else "checkout_failed"
    return Meaning(
        event_type="commerce_event",
        variant={"eventType": event, **_failure(receipt)},
        correlation=present(reference=receipt.reference, orderId=receipt.order_id),
        actor_ref=receipt.iss,
        timestamp_ms=seconds_to_epoch_ms(receipt.iat),
        wire_version=V02,
    )


def _payment_receipt(payload: dict[str, Any]) -> Meaning:
    """The seed has no failed payment status: a failed payment stays `requested` (it was
    asked for and never made) with `outcome: failed`."""
    receipt = PaymentReceipt.model_validate(payload)
    status = "processed" if receipt.status == "Success" else "requested"
    return Meaning(
        event_type="payment_event",
        variant={"status": status, **_failure(receipt)},
        correlation=present(reference=receipt.reference, paymentId=receipt.payment_id),
        actor_ref=receipt.iss,
        timestamp_ms=seconds_to_epoch_ms(receipt.iat),
        wire_version=V02,
    )


HANDLERS: Final[dict[str, Handler]] = {
    "IntentMandate": _intent_mandate,
    "CartMandate": _cart_mandate,
    "PaymentMandate": _payment_mandate,
    "CheckoutMandate": _checkout_mandate,
    "OpenCheckoutMandate": _open_checkout_mandate,
    "OpenPaymentMandate": _open_payment_mandate,
    "CheckoutReceipt": _checkout_receipt,
    "PaymentReceipt": _payment_receipt,
}

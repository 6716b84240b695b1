"""ACP (Agentic Commerce Protocol, OpenAI and Stripe) messages on the bus, 2026-04-17 and
2025-09-29.

Message types are ACP's operation and webhook names. A checkout operation's body is the
CheckoutSession the merchant returned (it carries the session id and status the request
lacks); `delegate_payment` is the request (its allowance links buyer and merchant);
`order_create` / `order_update` are the webhook events `{type, data}`.
"""

import copy
from typing import Any, Final, Literal, Self

from pydantic import model_validator

from contracts.protocols.meaning import (
    Handler,
    Meaning,
    ProtocolConnection,
    RelatedEvent,
    present,
)
from contracts.protocols.wire import NonEmptyStr, WireModel, iso_to_epoch_ms

CheckoutStatus = Literal[
    # 2025-09-29
    "not_ready_for_payment",
    "ready_for_payment",
    "completed",
    "canceled",
    "in_progress",
    # added by 2026-04-17
    "incomplete",
    "requires_escalation",
    "authentication_required",
    "pending_approval",
    "complete_in_progress",
    "expired",
]
TotalType = Literal[
    "items_base_amount",
    "items_discount",
    "subtotal",
    "discount",
    "fulfillment",
    "tax",
    "fee",
    "gift_wrap",
    "tip",
    "store_credit",
    "total",
    "amount_refunded",
]
# The RFC says `completed`, the 2026-04-17 schema `delivered`, 2025-09-29 `fulfilled`.
OrderStatus = Literal[
    "created",
    "confirmed",
    "manual_review",
    "processing",
    "shipped",
    "delivered",
    "completed",
    "fulfilled",
    "canceled",
]
_ORDER_DONE: Final = frozenset({"delivered", "completed", "fulfilled"})

# Card data must never reach the event store; these are dropped from a stored
# delegate_payment request (PCI DSS forbids keeping CVCs at all).
_CARD_SECRETS: Final = ("number", "cvc", "cryptogram")

FULFILLMENT_TYPE: Final = "order"


class Total(WireModel):
    type: TotalType
    display_text: str
    amount: int


class ItemRef(WireModel):
    id: NonEmptyStr


class LineItem(WireModel):
    """2026-04-17: `quantity` and `totals[]`; 2025-09-29: the five amount fields."""

    id: NonEmptyStr
    item: ItemRef
    quantity: int | None = None
    totals: list[Total] | None = None
    base_amount: int | None = None
    discount: int | None = None
    subtotal: int | None = None
    tax: int | None = None
    total: int | None = None

    @model_validator(mode="after")
    def _one_version(self) -> Self:
        current = self.quantity is not None and self.totals is not None
        legacy = None not in (self.base_amount, self.discount, self.subtotal, self.tax, self.total)
        if not (current or legacy):
            raise ValueError(
                "a line item needs `quantity` and `totals` (2026-04-17) or `base_amount`,"
                " `discount`, `subtotal`, `tax`, `total` (2025-09-29)"
            )
        return self


class FulfillmentOption(WireModel):
    type: Literal["shipping", "digital", "pickup", "local_delivery"]
    id: NonEmptyStr
    title: str


class CheckoutMessage(WireModel):
    type: Literal["info", "warning", "error"]
    content_type: Literal["plain", "markdown"]
    content: str
    code: str | None = None

    @model_validator(mode="after")
    def _code(self) -> Self:
        if self.type != "info" and not self.code:
            raise ValueError(f"{self.type} messages need `code`")
        return self


class Order(WireModel):
    """`id` is required from 2026-04-17 on; 2025-09-29 webhooks named only the session."""

    checkout_session_id: NonEmptyStr
    permalink_url: NonEmptyStr
    id: NonEmptyStr | None = None
    status: OrderStatus | None = None
    type: Literal["order"] | None = None


class CheckoutSession(WireModel):
    """`capabilities` is required from 2026-04-17 on and absent in 2025-09-29."""

    id: NonEmptyStr
    status: CheckoutStatus
    currency: NonEmptyStr
    line_items: list[LineItem]
    fulfillment_options: list[FulfillmentOption]
    totals: list[Total]
    messages: list[CheckoutMessage]
    links: list[dict[str, Any]]
    capabilities: dict[str, Any] | None = None
    order: Order | None = None
    created_at: str | None = None
    updated_at: str | None = None


class OrderEvent(WireModel):
    """The order webhook body (merchant to agent platform)."""

    type: NonEmptyStr
    data: Order


class PaymentMethod(WireModel):
    type: NonEmptyStr


class Allowance(WireModel):
    reason: Literal["one_time"]
    max_amount: int
    currency: NonEmptyStr
    checkout_session_id: NonEmptyStr
    merchant_id: NonEmptyStr
    expires_at: NonEmptyStr


class DelegatePaymentRequest(WireModel):
    payment_method: PaymentMethod
    allowance: Allowance
    risk_signals: list[dict[str, Any]]
    metadata: dict[str, Any]


_CHECKOUT_EVENTS: Final[dict[str, str]] = {
    "create_checkout_session": "checkout_created",
    "update_checkout_session": "checkout_updated",
    "complete_checkout_session": "checkout_completed",
    "cancel_checkout_session": "checkout_canceled",
}


def _checkout(operation: str) -> Handler:
    def handle(payload: dict[str, Any]) -> Meaning:
        session = CheckoutSession.model_validate(payload)
        event = _CHECKOUT_EVENTS[operation]
        if event == "checkout_completed" and session.status != "completed":
            # Completion is pending (3DS, approval, in progress): the session changed, it
            # did not complete; `rawState` says where it stands.
            event = "checkout_updated"
        order_id = session.order.id if session.order else None
        correlation = present(checkoutSessionId=session.id, orderId=order_id)
        paid = event == "checkout_completed" and session.order is not None
        related: tuple[RelatedEvent, ...] = ()
        if paid:
            related = (RelatedEvent("payment", "payment_event", {"status": "processed"}),)
        return Meaning(
            event_type="commerce_event",
            variant={"eventType": event, "rawState": session.status},
            correlation=correlation,
            timestamp_ms=iso_to_epoch_ms(session.updated_at or session.created_at),
            connection=(
                ProtocolConnection("transacted", {"transactionType": "payment"}) if paid else None
            ),
            related=related,
        )

    return handle


def _order_webhook(message_type: str, event: str) -> Handler:
    def handle(payload: dict[str, Any]) -> Meaning:
        webhook = OrderEvent.model_validate(payload)
        if webhook.type != message_type:
            raise ValueError(f"`type` is {webhook.type!r}; this subject carries {message_type!r}")
        order = webhook.data
        variant: dict[str, Any] = {"eventType": event}
        if order.status is not None:
            variant["rawState"] = order.status
        return Meaning(
            event_type="commerce_event",
            variant=variant,
            correlation=present(checkoutSessionId=order.checkout_session_id, orderId=order.id),
            connection=(
                ProtocolConnection("fulfilled", {"fulfillmentType": FULFILLMENT_TYPE})
                if order.status in _ORDER_DONE
                else None
            ),
        )

    return handle


def _without_card_secrets(payload: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    stored = copy.deepcopy(payload)
    method = stored["payment_method"]  # an object: the request validated
    dropped = [key for key in _CARD_SECRETS if key in method]
    for key in dropped:
        del method[key]
    return stored, [f"payment_method.{key}" for key in dropped]


def _delegate_payment(payload: dict[str, Any]) -> Meaning:
    """A vault token scoped to one checkout and merchant: the payment is asked for, not
    made (a judgement call: the spec does not say), and the allowance approves the merchant."""
    request = DelegatePaymentRequest.model_validate(payload)
    allowance = request.allowance
    stored, redacted = _without_card_secrets(payload)
    variant: dict[str, Any] = {"status": "requested"}
    if redacted:
        variant["redacted"] = redacted
    return Meaning(
        event_type="payment_event",
        variant=variant,
        correlation=present(
            checkoutSessionId=allowance.checkout_session_id, merchantId=allowance.merchant_id
        ),
        target_ref=allowance.merchant_id,
        connection=ProtocolConnection("approved", {"approvalType": "delegated_payment"}),
        stored_payload=stored,
    )


HANDLERS: Final[dict[str, Handler]] = {
    **{operation: _checkout(operation) for operation in _CHECKOUT_EVENTS},
    "order_create": _order_webhook("order_create", "order_created"),
    "order_update": _order_webhook("order_update", "order_updated"),
    "delegate_payment": _delegate_payment,
}

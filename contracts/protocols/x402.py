"""x402 (HTTP 402 payments) messages on the bus, protocol v2 and v1.

Message types are x402's type names. The bus carries the decoded JSON, not the base64
header value (`PAYMENT-REQUIRED`, `PAYMENT-SIGNATURE` / `X-PAYMENT`, `PAYMENT-RESPONSE` /
`X-PAYMENT-RESPONSE`). Parties: the resource server asks for and settles payments, the
client pays; the facilitator's answers are published for the resource server.
"""

from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import BaseModel, Field, StringConstraints

from contracts.protocols.meaning import Handler, Meaning, ProtocolConnection, present
from contracts.protocols.wire import NonEmptyStr, WireModel

AtomicAmount = Annotated[str, StringConstraints(pattern=r"^[0-9]+$")]
"""An amount in the asset's smallest unit, as a base-10 integer string."""

# The payment's step in x402's own words (the status names of x402's A2A extension).
REQUIRED: Final = "payment-required"
SUBMITTED: Final = "payment-submitted"
VERIFIED: Final = "payment-verified"
REJECTED: Final = "payment-rejected"
COMPLETED: Final = "payment-completed"
FAILED: Final = "payment-failed"


class ResourceInfo(WireModel):
    url: NonEmptyStr
    description: str | None = None
    mimeType: str | None = None


class PaymentRequirementsV1(WireModel):
    scheme: NonEmptyStr
    network: NonEmptyStr
    maxAmountRequired: AtomicAmount
    asset: NonEmptyStr
    payTo: NonEmptyStr
    resource: NonEmptyStr
    description: str
    maxTimeoutSeconds: int = Field(ge=0)
    mimeType: str | None = None
    outputSchema: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None


class PaymentRequirementsV2(WireModel):
    scheme: NonEmptyStr
    network: NonEmptyStr  # CAIP-2, e.g. eip155:84532
    amount: AtomicAmount
    asset: NonEmptyStr
    payTo: NonEmptyStr
    maxTimeoutSeconds: int = Field(ge=0)
    extra: dict[str, Any] | None = None


class PaymentRequiredV1(WireModel):
    x402Version: Literal[1]
    error: str
    accepts: list[PaymentRequirementsV1] = Field(min_length=1)


class PaymentRequiredV2(WireModel):
    x402Version: Literal[2]
    resource: ResourceInfo
    accepts: list[PaymentRequirementsV2] = Field(min_length=1)
    error: str | None = None
    extensions: dict[str, Any] | None = None


class Authorization(WireModel):
    """EIP-3009 authorization of the `exact` scheme on EVM networks."""

    from_: NonEmptyStr = Field(alias="from")
    to: NonEmptyStr
    value: AtomicAmount
    validAfter: str
    validBefore: str
    nonce: NonEmptyStr


class ExactEvmPayload(WireModel):
    signature: NonEmptyStr
    authorization: Authorization


class PaymentPayloadV1(WireModel):
    x402Version: Literal[1]
    scheme: NonEmptyStr
    network: NonEmptyStr
    payload: dict[str, Any]


class PaymentPayloadV2(WireModel):
    x402Version: Literal[2]
    accepted: PaymentRequirementsV2
    payload: dict[str, Any]
    resource: ResourceInfo | None = None
    extensions: dict[str, Any] | None = None


class VerifyResponse(WireModel):
    isValid: bool
    invalidReason: str | None = None
    payer: str | None = None


class SettleResponse(WireModel):
    success: bool
    transaction: str  # empty when settlement failed
    network: NonEmptyStr
    payer: str | None = None
    errorReason: str | None = None


V1Model = TypeVar("V1Model", bound=BaseModel)
V2Model = TypeVar("V2Model", bound=BaseModel)


def _versioned(payload: dict[str, Any], v1: type[V1Model], v2: type[V2Model]) -> V1Model | V2Model:
    version = payload.get("x402Version")
    if version == 1 and type(version) is int:
        return v1.model_validate(payload)
    if version == 2 and type(version) is int:
        return v2.model_validate(payload)
    raise ValueError(f"`x402Version` must be 1 or 2, not {version!r}")


def _payment_required(payload: dict[str, Any]) -> Meaning:
    required = _versioned(payload, PaymentRequiredV1, PaymentRequiredV2)
    first = required.accepts[0]
    if isinstance(required, PaymentRequiredV2):
        resource = required.resource.url
    else:
        resource = required.accepts[0].resource  # v1 named the resource per requirement
    return Meaning(
        event_type="payment_event",
        variant={"status": "requested", "rawState": REQUIRED},
        correlation=present(resource=resource, network=first.network),
        actor_ref=first.payTo,
        wire_version=str(required.x402Version),
    )


def _payment_payload(payload: dict[str, Any]) -> Meaning:
    """The seed has no "submitted" payment step: a signed payment is still `requested`
    until a facilitator verifies it; `rawState` says it was submitted."""
    submitted = _versioned(payload, PaymentPayloadV1, PaymentPayloadV2)
    authorization = None
    if "authorization" in submitted.payload:
        authorization = ExactEvmPayload.model_validate(submitted.payload).authorization
    if isinstance(submitted, PaymentPayloadV2):
        network, pay_to = submitted.accepted.network, submitted.accepted.payTo
        resource = submitted.resource.url if submitted.resource else None
    else:
        network, pay_to, resource = submitted.network, None, None
    return Meaning(
        event_type="payment_event",
        variant={"status": "requested", "rawState": SUBMITTED},
        correlation=present(
            resource=resource,
            network=network,
            nonce=authorization.nonce if authorization else None,
        ),
        actor_ref=authorization.from_ if authorization else None,
        target_ref=pay_to or (authorization.to if authorization else None),
        wire_version=str(submitted.x402Version),
    )


def _failed(raw_state: str, reason: str | None) -> dict[str, Any]:
    """The seed has no failed payment status: the payment stays `requested` (asked for,
    never made) and `outcome: failed` marks it."""
    variant: dict[str, Any] = {"status": "requested", "rawState": raw_state, "outcome": "failed"}
    if reason:
        variant["reason"] = reason
    return variant


def _verify_response(payload: dict[str, Any]) -> Meaning:
    verdict = VerifyResponse.model_validate(payload)
    return Meaning(
        event_type="payment_event",
        variant=(
            {"status": "verified", "rawState": VERIFIED}
            if verdict.isValid
            else _failed(REJECTED, verdict.invalidReason)
        ),
        target_ref=verdict.payer,
    )


def _settle_response(payload: dict[str, Any]) -> Meaning:
    settlement = SettleResponse.model_validate(payload)
    return Meaning(
        event_type="payment_event",
        variant=(
            {"status": "processed", "rawState": COMPLETED}
            if settlement.success
            else _failed(FAILED, settlement.errorReason)
        ),
        correlation=present(transaction=settlement.transaction, network=settlement.network),
        target_ref=settlement.payer,
        # The payer (the target) paid the resource server (the actor).
        connection=(
            ProtocolConnection(
                "transacted", {"transactionType": "payment"}, direction="target_to_actor"
            )
            if settlement.success
            else None
        ),
    )


HANDLERS: Final[dict[str, Handler]] = {
    "PaymentRequired": _payment_required,
    "PaymentPayload": _payment_payload,
    "VerifyResponse": _verify_response,
    "SettleResponse": _settle_response,
}

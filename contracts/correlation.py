"""Metadata keys that tie events together: one A2A task, one checkout, one purchase.

Events whose metadata carries one of these keys with a string value can be looked up
by it through an index (`events.list` with `metadata: {"taskId": ...}`), whether they
came in as raw protocol messages or were published directly.
"""

from typing import Any, Final

CORRELATION_KEYS: Final[tuple[str, ...]] = (
    # A2A
    "taskId",
    "contextId",
    # ACP
    "checkoutSessionId",
    "orderId",
    # AP2
    "transactionId",
    "cartId",
    "paymentMandateId",
    # x402
    "transaction",
    # AG-UI
    "threadId",
    "runId",
    # any protocol: the envelope's One-Correlation-Id
    "correlationId",
)


def correlation_ref(key: str, value: str) -> str:
    return f"{key}={value}"


def correlation_refs(metadata: dict[str, Any]) -> list[str]:
    return [
        correlation_ref(key, value)
        for key in CORRELATION_KEYS
        if isinstance(value := metadata.get(key), str)
    ]

"""Query error replies: `{"ok": false, "error": {"code", "message", "details"}}`.

The same code also travels in the NATS micro (ADR-32) error headers, as an HTTP-like status,
so generic NATS tooling can tell a failed request from a good one without parsing JSON.
"""

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

ErrorCode = Literal["invalid_request", "not_found", "timeout", "internal", "limit_exceeded"]

ERROR_STATUS: Final[dict[ErrorCode, int]] = {
    "invalid_request": 400,
    "not_found": 404,
    "timeout": 408,
    "internal": 500,
    # Too many watches (per tenant or per connection): stop some, then ask again.
    "limit_exceeded": 429,
}
"""The `Nats-Service-Error-Code` header value for each error code."""

OVERLOADED: Final = "overloaded"
"""`details.reason` of a `timeout` refused on admission, before any read: the tenant (or
the replica) holds as many requests as it may (`details.scope`: "tenant" or "replica",
`details.limit`). Nothing was done; back off and send it again. A plain `timeout` (no
reason) ran out of time instead."""

SERVICE_ERROR_HEADER: Final = "Nats-Service-Error"
SERVICE_ERROR_CODE_HEADER: Final = "Nats-Service-Error-Code"


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: ErrorCode
    message: str
    # JSON: for invalid_request, the list of validation problems ({loc, msg, type}).
    details: Any = None


class ErrorReply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ok: Literal[False] = False
    error: ErrorBody


TIMEOUT_HEADER: Final = "One-Timeout-Ms"
"""Optional request header: how long the requester waits for the reply, in milliseconds.

The responder answers `timeout` at once rather than work on a request whose requester has
given up (the server's own `query_timeout_s` still applies when it is longer)."""

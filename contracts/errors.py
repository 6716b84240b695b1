"""Query error replies: `{"ok": false, "error": {"code", "message", "details"}}`.

The same code also travels in the NATS micro (ADR-32) error headers, as an HTTP-like status,
so generic NATS tooling can tell a failed request from a good one without parsing JSON.
"""

from collections.abc import Sequence
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from contracts.schema_rules import Schema, add_rules, when_equal

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


class Problem(BaseModel):
    """One reason a request is invalid, in pydantic's shape: where, what, which rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    loc: list[str | int]
    msg: str
    type: str


def problem(loc: Sequence[str | int], msg: str, type: str) -> dict[str, Any]:
    """A `details` entry of an `invalid_request` the service finds itself (not pydantic)."""
    return {"loc": list(loc), "msg": msg, "type": type}


def validation_problems(error: ValidationError) -> list[dict[str, Any]]:
    """A request model's validation errors as `details` entries: `loc`, `msg`, `type`."""
    return error.errors(include_url=False, include_context=False, include_input=False)  # type: ignore[return-value]


class KnownNames(BaseModel):
    """The `details` of an `invalid_request` for a name the service does not know."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    known: list[str]


def _details_by_code(schema: Schema) -> None:
    problems = {"type": "array", "items": Problem.model_json_schema()}
    known = KnownNames.model_json_schema()
    details = {"anyOf": [problems, known, {"type": "null"}]}
    add_rules(schema, when_equal("code", "invalid_request", {"properties": {"details": details}}))


class ErrorBody(BaseModel):
    # `details` of an invalid_request: its problems, or the names known; else null.
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_details_by_code)

    code: ErrorCode
    message: str
    # JSON: for invalid_request, the list of problems ({loc, msg, type}); for an unknown
    # query or watch name, `{known: [...]}`; for not_found, what was not found.
    details: Any = None


class ErrorReply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ok: Literal[False] = False
    error: ErrorBody


TIMEOUT_HEADER: Final = "One-Timeout-Ms"
"""Optional request header: how long the requester waits for the reply, in milliseconds.

The responder answers `timeout` at once rather than work on a request whose requester has
given up (the server's own `query_timeout_s` still applies when it is longer)."""

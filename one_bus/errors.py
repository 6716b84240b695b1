"""What the SDK raises: a query's error reply as a typed exception, and bus failures."""

from typing import Any

from contracts.errors import OVERLOADED, ErrorBody, ErrorCode


class OneBusError(Exception):
    """Base of every error the SDK raises on purpose."""


class QueryError(OneBusError):
    """A query answered `{"ok": false, "error": {code, message, details}}`."""

    def __init__(self, query: str, code: ErrorCode, message: str, details: Any = None) -> None:
        super().__init__(f"{query}: {code}: {message}")
        self.query = query
        self.code: ErrorCode = code
        self.message = message
        self.details = details

    @classmethod
    def from_body(cls, query: str, body: ErrorBody) -> "QueryError":
        """The error for `body`: `OverloadedError` for a refusal on admission, unless the
        caller asked for a more specific class."""
        kind = cls
        if cls is QueryError and is_overloaded(body):
            kind = OverloadedError
        return kind(query, body.code, body.message, body.details)


class NotFoundError(QueryError):
    """`not_found`: raised by `get_entity` for an id with no live record."""


class OverloadedError(QueryError):
    """`timeout` refused at once, before anything was read: the tenant (or the replica)
    holds as many requests as it may. Nothing was done: back off, then send it again.
    `details` has `scope` ("tenant" or "replica") and `limit`."""


def is_overloaded(body: ErrorBody) -> bool:
    details = body.details
    return (
        body.code == "timeout" and isinstance(details, dict) and details.get("reason") == OVERLOADED
    )


class QueryUnavailableError(OneBusError):
    """No query responder answered (none running, or the request timed out in NATS)."""


class PublishError(OneBusError):
    """JetStream did not acknowledge a publish after the client's retries."""

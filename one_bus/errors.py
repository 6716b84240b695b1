"""What the SDK raises: a query's error reply as a typed exception, and bus failures."""

from typing import Any

from contracts.errors import ErrorBody, ErrorCode


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
        return cls(query, body.code, body.message, body.details)


class NotFoundError(QueryError):
    """`not_found`: raised by `get_entity` for an id with no live record."""


class QueryUnavailableError(OneBusError):
    """No query responder answered (none running, or the request timed out in NATS)."""


class PublishError(OneBusError):
    """JetStream did not acknowledge a publish after the client's retries."""

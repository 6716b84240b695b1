"""What the SDK raises: a query's error reply as a typed exception, and bus failures."""

import re
from typing import Any, Final, Literal

from contracts.dead_letters import DeadLetterReason
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


class ConnectError(OneBusError, ConnectionError):
    """No NATS server could be reached (or it refused the credentials) in time."""


class PublishError(OneBusError):
    """JetStream did not acknowledge a publish after the client's retries."""


class RejectedError(OneBusError):
    """A write waited for (`wait=True`) was dead-lettered: `code` is the dead letter's
    reason (`subject_mismatch`, `invalid_payload`, ...), `message` why, `seq` the message's
    ingest stream sequence (`one-bus dlq` finds it by `One-Dlq-Stream-Seq`)."""

    def __init__(
        self, subject: str, code: DeadLetterReason, message: str, stream: str, seq: int
    ) -> None:
        super().__init__(f"{subject}: rejected: {code}: {message}")
        self.subject = subject
        self.code: DeadLetterReason = code
        self.message = message
        self.stream = stream
        self.seq = seq


class OutcomeTimeoutError(OneBusError, TimeoutError):
    """The write is in the stream (`seq`), but its outcome did not come in time: ingest is
    behind, or the answer was lost (at most once). A query with `after=seq` tells what
    became of it: it waits until ingest is done with it."""

    def __init__(self, subject: str, stream: str, seq: int, waited_s: float) -> None:
        super().__init__(
            f"{subject}: in {stream} as #{seq}, no outcome within {waited_s:g} s "
            f"(check with a query with after={seq})"
        )
        self.subject = subject
        self.stream = stream
        self.seq = seq


class NotAllowedError(OneBusError):
    """The server refused a publish or a subscribe: this identity's permissions do not
    allow it (nats-server reports `-ERR 'Permissions Violation for Publish to ...'`).

    `action` is what was refused, `subject` the subject the server named. nats-py hands
    it over lower-cased: a publish, query or watch gives it back its case; a subject the
    client library chose (`$JS.API...`, an inbox) stays lower-cased.
    """

    def __init__(self, action: Literal["publish", "subscribe"], subject: str) -> None:
        super().__init__(f"not allowed: this identity may not {action} to {subject}")
        self.action: Literal["publish", "subscribe"] = action
        self.subject = subject


_VIOLATION: Final = re.compile(
    r"permissions violation for (publish|subscription) to \"?([^\"\s]*)\"?", re.IGNORECASE
)


def not_allowed(error: BaseException) -> NotAllowedError | None:
    """The `NotAllowedError` an asynchronous NATS error stands for, if it is a permission
    violation; the one mapping the SDK and the CLI share."""
    found = _VIOLATION.search(str(error))
    if found is None:
        return None
    action: Literal["publish", "subscribe"] = (
        "publish" if found.group(1).lower() == "publish" else "subscribe"
    )
    return NotAllowedError(action, found.group(2))

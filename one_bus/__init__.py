"""The ONE Bus client SDK: `from one_bus import OneClient`."""

from contracts.connection_spec import ConnectionSpec
from contracts.outcomes import OutcomeRecord, Rejected, Stored
from one_bus.client import OneClient
from one_bus.delivered import ChangeMessage, DeadLetterMessage, StreamPosition
from one_bus.errors import (
    ConnectError,
    NotAllowedError,
    NotFoundError,
    OneBusError,
    OutcomeTimeoutError,
    OverloadedError,
    PublishError,
    QueryError,
    QueryUnavailableError,
    RejectedError,
)
from one_bus.ids import new_id, uuid7
from one_bus.outcomes import PendingOutcome, Published
from one_bus.pages import items
from one_bus.subscription import Subscription
from one_bus.watch import Watch

__all__ = [
    "ChangeMessage",
    "ConnectError",
    "ConnectionSpec",
    "DeadLetterMessage",
    "NotAllowedError",
    "NotFoundError",
    "OneBusError",
    "OneClient",
    "OutcomeRecord",
    "OutcomeTimeoutError",
    "OverloadedError",
    "PendingOutcome",
    "PublishError",
    "Published",
    "QueryError",
    "QueryUnavailableError",
    "Rejected",
    "RejectedError",
    "Stored",
    "StreamPosition",
    "Subscription",
    "Watch",
    "items",
    "new_id",
    "uuid7",
]

"""The ONE Bus client SDK: `from one_bus import OneClient`."""

from one_bus.client import OneClient, Published
from one_bus.delivered import ChangeMessage, DeadLetterMessage, StreamPosition
from one_bus.errors import (
    NotFoundError,
    OneBusError,
    OverloadedError,
    PublishError,
    QueryError,
    QueryUnavailableError,
)
from one_bus.ids import new_id, uuid7
from one_bus.pages import items
from one_bus.subscription import Subscription
from one_bus.watch import Watch

__all__ = [
    "ChangeMessage",
    "DeadLetterMessage",
    "NotFoundError",
    "OneBusError",
    "OneClient",
    "OverloadedError",
    "PublishError",
    "Published",
    "QueryError",
    "QueryUnavailableError",
    "StreamPosition",
    "Subscription",
    "Watch",
    "items",
    "new_id",
    "uuid7",
]

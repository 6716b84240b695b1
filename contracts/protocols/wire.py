"""How ONE Bus reads a protocol's wire JSON, whatever the protocol.

The models check what a bus needs to trust a message (required fields, enum values, JSON
types) and ignore fields they do not name: every spec here tells readers to ignore unknown
fields, and the message is stored as the publisher sent it, so nothing is lost by not
modelling it. Strict mode keeps a string from standing in for a number or a boolean.
"""

from datetime import datetime
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, StringConstraints

NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]

MAX_EPOCH_MS: Final = 2**53 - 1


class WireModel(BaseModel):
    """Base of every protocol message model."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


def iso_to_epoch_ms(value: str | None) -> int | None:
    """An ISO 8601 / RFC 3339 time as epoch ms; None if absent or unreadable.

    Unreadable times are not an error: a message time is only a fallback for the envelope's
    own timestamp, and rejecting a message for a cosmetic field would lose it.
    """
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None  # a local time names no instant
    millis = int(parsed.timestamp() * 1000)
    return millis if 0 <= millis <= MAX_EPOCH_MS else None


def seconds_to_epoch_ms(value: int | None) -> int | None:
    """A Unix time in seconds (JWT `iat`) as epoch ms; None if absent or out of range."""
    if value is None:
        return None
    millis = value * 1000
    return millis if 0 <= millis <= MAX_EPOCH_MS else None


def epoch_ms(value: int | None) -> int | None:
    """An epoch-ms time from a message, kept only if it fits EpochMs."""
    if value is None:
        return None
    return value if 0 <= value <= MAX_EPOCH_MS else None

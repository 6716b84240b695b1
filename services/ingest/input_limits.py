"""The limits a message must keep to be ingested: beyond them it is bad input.

Each guards something the rest of the path cannot hold: a payload or headers too large to
copy to the DLQ within the server's max payload, or a time so far ahead that it would
freeze an entity (a newer `updatedAt` never loses).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

# Time fields of commands that order or date records; all epoch milliseconds.
TIME_FIELDS: Final = ("updatedAt", "createdAt", "timestamp")


@dataclass(frozen=True, slots=True)
class InputLimits:
    max_payload_bytes: int
    max_header_bytes: int = 8 * 1024
    # How far ahead of the time the bus received a message its times may be.
    max_clock_skew_ms: int = 24 * 3600 * 1000


def header_bytes(headers: Mapping[str, str]) -> int:
    """The size of headers on the wire (`Name: value\\r\\n` each)."""
    return sum(len(name.encode()) + len(value.encode()) + 4 for name, value in headers.items())

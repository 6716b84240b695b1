"""Record ids and message ids: UUIDv7 (RFC 9562), time-ordered so that ids sort by creation.

Python 3.11's `uuid` has no version 7, and the layout is short enough to write here
rather than add a dependency: 48 bits of epoch milliseconds, the version, 12 bits of a
per-millisecond counter (so ids made in the same millisecond by one process still sort
in the order they were made), the variant and 62 random bits.
"""

import os
import threading
import uuid
from collections.abc import Callable

from contracts.clock import now_ms

_COUNTER_MAX = 0xFFF


class UUID7Generator:
    """Makes strictly increasing UUIDv7s from a clock (epoch ms)."""

    def __init__(self, clock_ms: Callable[[], int] = now_ms) -> None:
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        self._last_ms = -1
        self._counter = 0

    def __call__(self) -> uuid.UUID:
        with self._lock:
            ms = self._clock_ms()
            if ms <= self._last_ms:
                # Same millisecond (or the clock stepped back): count on from the last id.
                ms = self._last_ms
                self._counter += 1
                if self._counter > _COUNTER_MAX:
                    ms, self._counter = ms + 1, 0
            else:
                self._counter = 0
            self._last_ms = ms
            counter = self._counter
        value = (ms & ((1 << 48) - 1)) << 80
        value |= 0x7 << 76
        value |= counter << 64
        value |= 0b10 << 62
        value |= int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
        return uuid.UUID(int=value)


uuid7 = UUID7Generator()
"""A new UUIDv7: `uuid7()`."""


def new_id() -> str:
    """A record id (or `Nats-Msg-Id`): a UUIDv7 in its canonical text form."""
    return str(uuid7())


def uuid7_time_ms(value: uuid.UUID | str) -> int:
    """The creation time, epoch milliseconds, a UUIDv7 carries."""
    parsed = value if isinstance(value, uuid.UUID) else uuid.UUID(value)
    return parsed.int >> 80

"""The bus's time: epoch milliseconds, as every `updatedAt`, `timestamp` and lease carries it."""

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000

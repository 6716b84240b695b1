"""How long a query or watch request may take, and the deadline its reads are given.

A request's deadline runs from its arrival: `query_timeout_s`, or the requester's own
`One-Timeout-Ms` when shorter. Deadlines are on the event loop's clock, the clock the
store port's reads take theirs on (services/store/port.py).
"""

import asyncio
from typing import Final

from nats.aio.msg import Msg

from contracts.errors import TIMEOUT_HEADER
from services.settings import Settings

SLACK_S: Final = 0.25
"""How long a requester waits past its deadline, so a store timeout is reported as such."""


def requester_budget_s(msg: Msg) -> float | None:
    """The requester's `One-Timeout-Ms`, in seconds; None if absent or not a number."""
    value = (msg.headers or {}).get(TIMEOUT_HEADER, "")
    if not (value.isascii() and value.isdigit() and len(value) <= 9):
        return None
    return int(value) / 1000


def request_budget_s(settings: Settings, msg: Msg) -> float:
    """How long a request may take from its arrival: `query_timeout_s`, or the requester's
    own `One-Timeout-Ms` when shorter (queries and watches alike)."""
    requested = requester_budget_s(msg)
    budget = settings.query_timeout_s
    return budget if requested is None else min(budget, requested)


def deadline_in(seconds: float) -> float:
    """`seconds` from now, on the event loop's clock."""
    return asyncio.get_running_loop().time() + seconds


def left_s(deadline: float) -> float:
    """What is left of `deadline`; TimeoutError if nothing is (the requester gave up)."""
    left = deadline - asyncio.get_running_loop().time()
    if left <= 0:
        raise TimeoutError
    return left

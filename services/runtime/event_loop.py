"""The event loop a long-running process runs on (`ONE_EVENT_LOOP`): uvloop by default.

uvloop (libuv) does the same work as asyncio's own loop with less CPU per message and
per request: the query process answered `entities.get` a little faster with it, the
NATS round trip beside it too (docs/benchmarks.md). `asyncio` is the way back, for a
platform without uvloop or to rule the loop out when chasing a problem.
"""

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from services.settings import EventLoop

T = TypeVar("T")

log = logging.getLogger(__name__)


def run(main: Coroutine[Any, Any, T], loop: EventLoop) -> T:
    """`asyncio.run(main)` on the chosen loop; asyncio's if uvloop is not installed."""
    if loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("uvloop is not installed (Windows?): running on asyncio's event loop")
        else:
            log.info("event loop: uvloop")
            return uvloop.run(main)
    log.info("event loop: asyncio")
    return asyncio.run(main)

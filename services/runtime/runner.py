"""Keeping the service running until it is told to stop.

The service never sits alive and deaf: a server it cannot reach at start is named in one
log line and tried again with backoff, and a NATS connection the server closed for good
(nats-py reconnects after a network failure, but not after the server ended the
connection) makes the whole service start afresh on a new connection.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from services.runtime.service import OneBusService, UnreachableError
from services.settings import Settings

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0


async def run_until_stopped(
    settings: Settings,
    stop: asyncio.Event,
    on_running: Callable[[OneBusService], None] = lambda _: None,
    *,
    ingest: bool = True,
    query: bool = True,
) -> None:
    """Run the service until `stop` is set, starting it again whenever it cannot go on."""
    backoff = 1.0
    while not stop.is_set():
        service = OneBusService(settings, ingest=ingest, query=query)
        try:
            await service.start()
        except UnreachableError as error:
            await service.stop()
            log.warning("cannot reach %s; trying again in %.0f s", error, backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)
            continue
        except BaseException:
            await service.stop()
            raise
        backoff = 1.0
        on_running(service)
        try:
            await _first(stop.wait(), service.connection_lost.wait())
        finally:
            await service.stop()


async def _first(*waits: Coroutine[Any, Any, object]) -> None:
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()

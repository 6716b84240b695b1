"""Following the changes stream only while a replica has a use for them.

A replica with no watch and no read in flight can mark nothing, yet an ordered consumer
on every tenant's changes still delivers each change to it: nats-py's reading, parsing
and dispatching of every change was most of a query replica's CPU while ingest ran.
So the consumer exists only while it is `needed`: created before anything that depends
on the changes starts (a watch's first read, a watch taken over), and dropped at the
first `release_if_idle` that finds nothing needs it.

A consumer created later delivers only changes stored after it (`DeliverPolicy.NEW`):
whoever needs the changes calls `follow` before the read whose result the changes could
alter, so no change it must see is older than the consumer.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from nats.js.errors import Error as JetStreamError

from contracts.subjects import CHANGES_WILDCARD


class ChangeFollower:
    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        on_change: Callable[[Msg], Awaitable[None]],
        needed: Callable[[], bool],
    ) -> None:
        self._js = js
        self._stream = stream
        self._on_change = on_change
        self._needed = needed
        self._subscription: Subscription | None = None
        # Creating and dropping the consumer both wait on the server: one at a time, so a
        # `follow` never returns on a consumer being dropped.
        self._changing = asyncio.Lock()

    @property
    def following(self) -> bool:
        return self._subscription is not None

    async def follow(self) -> None:
        """Changes stored from now on are delivered; raises if the consumer cannot be
        created."""
        if self._subscription is not None and not self._changing.locked():
            return
        async with self._changing:
            if self._subscription is None:
                self._subscription = await self._js.subscribe(
                    CHANGES_WILDCARD,
                    stream=self._stream,
                    cb=self._on_change,
                    ordered_consumer=True,
                    deliver_policy=DeliverPolicy.NEW,
                )

    async def release_if_idle(self) -> None:
        """Drop the consumer if nothing needs the changes now."""
        if self._subscription is None or self._needed():
            return
        async with self._changing:
            if self._subscription is not None and not self._needed():
                await self._drop()

    async def stop(self) -> None:
        async with self._changing:
            await self._drop()

    async def _drop(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is None:
            return
        with contextlib.suppress(NatsError, JetStreamError):
            await subscription.unsubscribe()

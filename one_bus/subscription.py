"""Following a stream from a point in time or a sequence: an ordered JetStream consumer.

An ordered consumer is ephemeral, unacknowledged and single-flight: the client sees every
message in stream order exactly once, and nats-py recreates it from the last sequence
seen if a heartbeat goes missing. Nothing is left on the server when the subscription
closes, so `tail`-like readers cost no durable state.
"""

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from types import TracebackType
from typing import Generic, Self, TypeVar

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

T = TypeVar("T")
R = TypeVar("R")


async def _unguarded(work: Awaitable[R]) -> R:
    return await work


def start_config(
    *, since: datetime | None, start_seq: int | None
) -> tuple[DeliverPolicy, ConsumerConfig]:
    """The deliver policy for a start point: a time, a sequence, or (neither) what comes next."""
    if since is not None and start_seq is not None:
        raise ValueError("give `since` or `start_seq`, not both")
    if since is not None:
        return DeliverPolicy.BY_START_TIME, ConsumerConfig(opt_start_time=since)
    if start_seq is not None:
        if start_seq < 1:
            raise ValueError("stream sequences start at 1")
        return DeliverPolicy.BY_START_SEQUENCE, ConsumerConfig(opt_start_seq=start_seq)
    return DeliverPolicy.NEW, ConsumerConfig()


class Subscription(Generic[T]):
    """Async iterator over one filtered stream; use it as `async with` to stop the consumer."""

    def __init__(
        self,
        js: JetStreamContext,
        *,
        stream: str,
        subject: str,
        decode: Callable[[Msg], T],
        since: datetime | None = None,
        start_seq: int | None = None,
        guard: Callable[[Awaitable[object]], Awaitable[object]] = _unguarded,
    ) -> None:
        self._js = js
        # The client's: a consumer the server refuses to create fails at once.
        self._guard = guard
        self._stream = stream
        self.subject = subject
        self._decode = decode
        self._policy, self._config = start_config(since=since, start_seq=start_seq)
        self._sub: JetStreamContext.PushSubscription | None = None

    async def start(self) -> Self:
        if self._sub is None:
            # Named: nats-py then puts the filter in the API subject
            # ($JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>), the only consumer a
            # tenant's subscriber may create on a secured bus (docs/security.md); random,
            # so no other tenant can take the name first.
            self._config.name = self._config.name or f"one-bus-{uuid.uuid4().hex}"
            subscribing = self._js.subscribe(
                self.subject,
                stream=self._stream,
                ordered_consumer=True,
                deliver_policy=self._policy,
                config=self._config,
            )
            sub = await self._guard(subscribing)
            assert isinstance(sub, JetStreamContext.PushSubscription)
            self._sub = sub
        return self

    async def next(self, wait_s: float | None = None) -> T:
        """The next message; raises `TimeoutError` if none comes within `wait_s` seconds."""
        await self.start()
        assert self._sub is not None
        # nats-py's TimeoutError subclasses the builtin one, which callers catch.
        msg = await self._sub.next_msg(timeout=wait_s)
        return self._decode(msg)

    async def close(self) -> None:
        if self._sub is not None:
            sub, self._sub = self._sub, None
            await sub.unsubscribe()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        return await self.next()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

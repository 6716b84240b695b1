"""A live query from the client's side: `async for result in one.watch(name, request)`.

The watch subscribes to an inbox of its own (`deliverTo`), asks for the watch, yields the
first result, then each pushed result in version order (an older or repeated version is
skipped), and renews the lease at a third of it in the background. It ends when the
service ends it (`ended_reason` says why) or when the caller leaves: `async with` stops it
at once; an abandoned `async for` stops it when the iterator is collected.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Mapping
from types import TracebackType
from typing import Any, Final, Protocol, Self, TypeVar

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from contracts.errors import ErrorReply
from contracts.queries import Query
from contracts.subjects import WATCH_RENEW, WATCH_STOP, watch_subject
from one_bus.errors import NotFoundError, QueryError, QueryUnavailableError

log = logging.getLogger(__name__)
T = TypeVar("T")

_ENDED: Final = object()


class WatchingClient(Protocol):
    """What a watch needs of the client that started it (`OneClient` is one): its
    connection, tenant and request timeout, its read-your-writes `after`, and its guard
    against permission violations."""

    @property
    def nats(self) -> NatsClient: ...

    @property
    def tenant(self) -> str: ...

    @property
    def request_timeout_s(self) -> float: ...

    def read_your_writes(self, body: dict[str, Any]) -> dict[str, Any]: ...

    async def guard(self, work: Awaitable[T], *, subject: str = "") -> T: ...


class Watch:
    """One watch: an async iterator of results and an async context manager."""

    def __init__(
        self,
        client: WatchingClient,
        name: str,
        request: Query | Mapping[str, Any] | None = None,
        *,
        renew_every_s: float | None = None,
    ) -> None:
        self._client = client
        # None: a third of the lease the service grants.
        self.renew_every_s = renew_every_s
        self.name = name
        if isinstance(request, Query):
            self.request: dict[str, Any] = request.model_dump(mode="json", exclude_none=True)
        else:
            self.request = dict(request or {})
        self.watch_id: str | None = None
        self.version = 0
        self.lease_s = 0.0
        # Why the service ended the watch ("stopped", "lease_expired", ...), once it has.
        self.ended_reason: str | None = None
        self._first: Any = None
        self._inbox = ""
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._subscription: Subscription | None = None
        self._renewer: asyncio.Task[None] | None = None

    async def start(self) -> Self:
        """Ask for the watch (once); raises `QueryError` if the service refuses it."""
        if self.watch_id is not None:
            return self
        nc = self._client.nats
        self._inbox = nc.new_inbox()

        async def pushed(msg: Msg) -> None:
            await self._queue.put(msg.data)

        # Subscribed before asking: no push can come before we listen.
        self._subscription = await nc.subscribe(self._inbox, cb=pushed)
        try:
            # The first result reads the client's own writes (`after`, like its queries).
            body = self._client.read_your_writes({**self.request, "deliverTo": self._inbox})
            data = await self._ask(self.name, body)
        except BaseException:
            await self._unsubscribe()
            raise
        self.watch_id = data["watchId"]
        self.version = data["version"]
        self.lease_s = float(data["leaseS"])
        self._first = data["result"]
        self._renewer = asyncio.create_task(self._renew_loop())
        return self

    async def stop(self) -> None:
        """End the watch on the service (if still running) and stop listening."""
        if self._renewer is not None:
            self._renewer.cancel()
            self._renewer = None
        if self.watch_id is not None and self.ended_reason is None:
            self.ended_reason = "stopped"
            with contextlib.suppress(QueryError, QueryUnavailableError, NatsError, RuntimeError):
                await self._ask(WATCH_STOP, {"watchId": self.watch_id})
        await self._unsubscribe()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._results()

    async def _results(self) -> AsyncIterator[Any]:
        await self.start()
        try:
            yield self._first
            while True:
                item = await self._queue.get()
                if item is _ENDED:
                    return
                message = json.loads(item)
                if message.get("ended"):
                    self.ended_reason = str(message.get("reason"))
                    return
                if message.get("version", 0) <= self.version:
                    continue  # a push older than what we have: out of date
                self.version = message["version"]
                yield message["result"]
        finally:
            await self.stop()

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(max(self.renew_every_s or self.lease_s / 3, 0.05))
            try:
                await self._ask(WATCH_RENEW, {"watchId": self.watch_id})
            except NotFoundError:
                # The service no longer has it (its lease ran out while we could not
                # renew): the iteration ends.
                self.ended_reason = self.ended_reason or "lease_expired"
                await self._queue.put(_ENDED)
                return
            except (QueryError, QueryUnavailableError, NatsError) as error:
                log.warning("renewing watch %s failed (trying again): %s", self.watch_id, error)

    async def _ask(self, name: str, body: dict[str, Any]) -> Any:
        timeout_s = self._client.request_timeout_s
        try:
            subject = watch_subject(self._client.tenant, name)
            msg = await self._client.guard(
                self._client.nats.request(subject, json.dumps(body).encode(), timeout_s),
                subject=subject,
            )
        except NoRespondersError as error:
            raise QueryUnavailableError(f"watch.{name}: no watch responder is running") from error
        except NatsTimeoutError as error:
            raise QueryError(f"watch.{name}", "timeout", f"no reply within {timeout_s:g} s") from (
                error
            )
        reply = json.loads(msg.data)
        if isinstance(reply, dict) and reply.get("ok") is True:
            return reply.get("data")
        error_body = ErrorReply.model_validate(reply).error
        error_type = NotFoundError if error_body.code == "not_found" else QueryError
        raise error_type.from_body(f"watch.{name}", error_body)

    async def _unsubscribe(self) -> None:
        if self._subscription is not None:
            subscription, self._subscription = self._subscription, None
            with contextlib.suppress(NatsError):
                await subscription.unsubscribe()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

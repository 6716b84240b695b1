"""Watches on real servers: a client side that asks for a watch and reads its pushes.

Tests that restart the service, run two replicas or shorten leases start ONE Bus on a
nats-server of their own (`private_bus`), so no other watch replica shares their subjects.
"""

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.subscription import Subscription

from contracts.subjects import watch_subject
from services.runtime.service import OneBusService
from services.settings import Settings


class Watcher:
    """One watch as a client sees it: the reply, then every message on `deliverTo`."""

    def __init__(self, client: NatsClient, tenant: str) -> None:
        self.client = client
        self.tenant = tenant
        self.deliver_to = client.new_inbox()
        self.reply: dict[str, Any] = {}
        self.messages: list[dict[str, Any]] = []
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._subscription: Subscription | None = None

    async def start(self, name: str, request: dict[str, Any]) -> dict[str, Any]:
        """Subscribe, ask; returns the whole reply (`{ok, data}` or `{ok, error}`)."""

        async def pushed(msg: Any) -> None:
            body = json.loads(msg.data)
            self.messages.append(body)
            await self._queue.put(body)

        self._subscription = await self.client.subscribe(self.deliver_to, cb=pushed)
        body = {**request, "deliverTo": self.deliver_to}
        self.reply = await self.ask(name, body)
        return self.reply

    async def ask(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        msg = await self.client.request(
            watch_subject(self.tenant, name), json.dumps(body).encode(), timeout=10
        )
        answer: dict[str, Any] = json.loads(msg.data)
        return answer

    @property
    def watch_id(self) -> str:
        watch_id: str = self.reply["data"]["watchId"]
        return watch_id

    async def next(self, timeout_s: float = 10.0) -> dict[str, Any]:
        return await asyncio.wait_for(self._queue.get(), timeout_s)

    async def until(
        self, done: Callable[[dict[str, Any]], bool], timeout_s: float = 15.0
    ) -> dict[str, Any]:
        """The first push (from now on) for which `done` holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            message = await self.next(max(0.01, deadline - loop.time()))
            if done(message):
                return message

    async def quiet(self, seconds: float) -> list[dict[str, Any]]:
        """What arrives within `seconds` (the test expects nothing, or a known few)."""
        await asyncio.sleep(seconds)
        drained = []
        while not self._queue.empty():
            drained.append(self._queue.get_nowait())
        return drained

    async def close(self) -> None:
        """Stop the watch (if it started and still runs) and the subscription."""
        if self.reply.get("ok") and not self.client.is_closed:
            with contextlib.suppress(nats.errors.Error):
                await self.ask("stop", {"watchId": self.watch_id})
        if self._subscription is not None and not self.client.is_closed:
            await self._subscription.unsubscribe()


WatcherFactory = Callable[[str], Awaitable[Watcher]]


@pytest.fixture
async def watcher(nats_client: NatsClient) -> AsyncIterator[WatcherFactory]:
    made: list[Watcher] = []

    async def make(tenant: str) -> Watcher:
        made.append(Watcher(nats_client, tenant))
        return made[-1]

    yield make
    for each in made:
        await each.close()


@pytest.fixture
def private_settings(private_nats_url: str, bus_settings: Settings) -> Settings:
    """ONE Bus settings on the test's own nats-server and its own database."""
    return bus_settings.model_copy(
        update={
            "nats_url": private_nats_url,
            "mongodb_db": f"one_watch_{uuid.uuid4().hex[:8]}",
            "watch_heartbeat_s": 0.3,
            "watch_replica_timeout_s": 3.0,
        }
    )


ServiceFactory = Callable[..., Awaitable[OneBusService]]


@pytest.fixture
async def private_bus(private_settings: Settings) -> AsyncIterator[ServiceFactory]:
    """`await private_bus(**settings)`: a ONE Bus on the private server; stopped after."""
    running: list[OneBusService] = []

    async def start(*, ingest: bool = True, **overrides: Any) -> OneBusService:
        service = OneBusService(private_settings.model_copy(update=overrides), ingest=ingest)
        await service.start()
        running.append(service)
        return service

    yield start
    for service in running:
        await service.stop()

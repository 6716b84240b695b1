"""The service never sits alive and deaf: a connection the server closes is replaced, and a
server it cannot reach is named in one line and tried again."""

import asyncio
import json
import logging
import uuid

import nats
import pytest

from services.runtime.embedded import EmbeddedServers, free_port
from services.runtime.runner import run_until_stopped
from services.runtime.service import OneBusService
from services.settings import Settings

pytestmark = pytest.mark.integration


def settings_for(nats_url: str, mongodb_uri: str) -> Settings:
    return Settings(
        nats_url=nats_url,
        mongodb_uri=mongodb_uri,
        mongodb_db=f"runner_{uuid.uuid4().hex[:8]}",
        mongodb_timeout_s=0.5,
        connect_timeout_s=1,
    )


async def test_a_connection_the_server_closes_is_replaced_and_queries_are_answered_again(
    private_nats_url: str, mongodb_uri: str, tenant: str
) -> None:
    started: asyncio.Queue[OneBusService] = asyncio.Queue()
    stop = asyncio.Event()
    running = asyncio.create_task(
        run_until_stopped(settings_for(private_nats_url, mongodb_uri), stop, started.put_nowait)
    )
    try:
        first = await asyncio.wait_for(started.get(), 30)
        # A publish over the server's max payload (headers count, and nats-py checks only
        # the body): nats-server closes the connection and nats-py does not reconnect.
        client = first.nats
        await client.publish("x", b"x" * (client.max_payload - 10), headers={"H": "v" * 100})
        second = await asyncio.wait_for(started.get(), 30)
        assert second is not first
        assert first.connection_lost.is_set()

        requester = await nats.connect(private_nats_url)
        try:
            reply = await requester.request(
                f"one.v1.{tenant}.query.entities.get", json.dumps({"id": "nobody"}).encode(), 5
            )
        finally:
            await requester.close()
        assert json.loads(reply.data)["error"]["code"] == "not_found"
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)


async def test_an_unreachable_store_is_one_log_line_and_tried_again(
    private_nats_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    dead_mongo = f"mongodb://127.0.0.1:{free_port()}/?directConnection=true"
    stop = asyncio.Event()
    with caplog.at_level(logging.WARNING, logger="services.runtime.runner"):
        running = asyncio.create_task(
            run_until_stopped(settings_for(private_nats_url, dead_mongo), stop)
        )
        await asyncio.sleep(4)
        stop.set()
        await asyncio.wait_for(running, 15)
    lines = [r.getMessage() for r in caplog.records if r.name == "services.runtime.runner"]
    assert len(lines) >= 2  # tried again
    assert all(line.startswith("cannot reach MongoDB at mongodb://127.0.0.1:") for line in lines)
    assert all("\n" not in line for line in lines)


async def test_an_unreachable_nats_is_one_log_line_and_tried_again(
    mongodb_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    stop = asyncio.Event()
    dead_nats = f"nats://127.0.0.1:{free_port()}"
    with caplog.at_level(logging.WARNING, logger="services.runtime.runner"):
        running = asyncio.create_task(run_until_stopped(settings_for(dead_nats, mongodb_uri), stop))
        await asyncio.sleep(4)
        stop.set()
        await asyncio.wait_for(running, 15)
    lines = [r.getMessage() for r in caplog.records if r.name == "services.runtime.runner"]
    assert len(lines) >= 2
    assert all(line.startswith(f"cannot reach NATS at {dead_nats}") for line in lines)


async def test_stopping_during_a_nats_outage_ends_within_the_drain_and_raises_nothing(
    private_nats: EmbeddedServers, mongodb_uri: str
) -> None:
    # What SIGTERM does to `serve` while nats-server is away: nothing can be drained or
    # acked, and what was not acked is redelivered, so the service just closes.
    settings = settings_for(private_nats.nats_url, mongodb_uri)
    service = OneBusService(settings)
    await service.start()
    await private_nats.stop_nats()
    await asyncio.sleep(0.5)  # the client notices and starts reconnecting

    await asyncio.wait_for(service.stop(), settings.drain_timeout_s)

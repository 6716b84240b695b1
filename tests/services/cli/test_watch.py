"""`one-bus watch`: the result now, then each new one."""

import asyncio
import json

import pytest

from one_bus import OneClient
from tests.services.cli.command import one_bus

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("bus")]


async def test_watch_prints_each_new_result(nats_url: str, tenant: str) -> None:
    ran = asyncio.create_task(
        one_bus(
            "watch",
            "entities.get",
            '{"id": "ada"}',
            "-t",
            tenant,
            "--limit",
            "2",
            "--compact",
            nats_url=nats_url,
        )
    )
    async with OneClient(tenant, nats_url) as one:
        while not ran.done():
            # Until the watch has started and seen it: an upsert before it is not pushed.
            await one.upsert_entity(id="ada", type="creator", name="Ada", actor_id="admin")
            await asyncio.sleep(0.5)
    result = await ran
    assert result.code == 0, result.err
    first, second = (json.loads(line) for line in result.out.splitlines())
    assert first is None or first["id"] == "ada"
    assert second["name"] == "Ada"


async def test_watch_refuses_what_cannot_be_watched(nats_url: str, tenant: str) -> None:
    ran = await one_bus("watch", "stats.counts", "{}", "-t", tenant, nats_url=nats_url)
    assert ran.code == 2
    assert "invalid_request" in ran.err

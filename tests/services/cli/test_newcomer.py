"""The newcomer's first hour, as the docs tell it: `one-bus dev` in the background, then
publish, query, watch, tail, the dead letters (list, replay a fixed one), status from the
command line, and the SDK, each a separate process (or client) against what `dev`
printed.

`dev` runs in a directory of its own with its default (relative) data directory and no
COLUMNS: its banner goes to a pipe, where nothing may be hard-wrapped.
"""

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from one_bus import ConnectionSpec, NotFoundError, OneClient
from services.runtime.embedded import free_port
from tests.fixtures.waiting import eventually
from tests.services.cli.command import ONE_BUS, Ran, at_terminal, one_bus

pytestmark = pytest.mark.integration

ADA = json.dumps(
    {"id": "ada", "type": "creator", "name": "Ada Lovelace", "updatedAt": 1763900000000,
     "actorId": "admin"}
)  # fmt: skip


@dataclass(frozen=True)
class Dev:
    nats_url: str
    banner: list[str]
    directory: Path


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONE_") and k != "COLUMNS"}
    return env


async def _until(stream: asyncio.StreamReader, marker: str, seen: list[str]) -> None:
    async with asyncio.timeout(120):
        while not any(marker in line for line in seen):
            line = (await stream.readline()).decode()
            assert line, "".join(seen)
            seen.append(line.rstrip("\n"))


@pytest.fixture
async def dev(tmp_path: Path) -> AsyncIterator[Dev]:
    nats_port = free_port()
    process = await asyncio.create_subprocess_exec(
        ONE_BUS, "dev", "--nats-port", str(nats_port), "--mongo-port", str(free_port()),
        cwd=tmp_path, env=_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    banner: list[str] = []
    try:
        await _until(process.stdout, "Ctrl-C stops everything", banner)
        yield Dev(f"nats://127.0.0.1:{nats_port}", banner, tmp_path)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, "\n".join(banner) + rest.decode()


async def cli(dev: Dev, *args: str, stdin: str | None = None) -> Ran:
    return await one_bus(*args, nats_url=dev.nats_url, stdin=stdin, env={"ONE_TENANT": "demo"})


async def test_the_first_hour_on_the_command_line_and_the_sdk(dev: Dev) -> None:
    # The banner: where the data is (really), one line per fact, no second warning.
    data = dev.directory / ".one-data"
    text = "\n".join(dev.banner)
    assert f"ONE Bus is up (data in {data})" in text
    assert "WITHOUT CREDENTIALS" not in text
    assert any(
        line.strip().startswith("Open: no authentication") and line.endswith("turns them on.")
        for line in dev.banner
    ), text
    assert (data / "nats" / "jetstream").is_dir()
    assert (data / "mongo").is_dir()
    assert not (data / ".one-data").exists()

    published = await cli(dev, "publish", "--wait", "entities.creator.upsert", ADA)
    assert published.code == 0, published
    assert published.out.startswith("one.v1.demo.entities.creator.upsert: stored as ONE_INGEST #")
    assert ": entities ada created" in published.out
    assert len(published.out.splitlines()) == 1  # a pipe: the ack line is never wrapped

    async def get() -> Ran:
        return await cli(dev, "query", "entities.get", '{"id":"ada"}', "--compact")

    found = await eventually(get, lambda ran: ran.code == 0)
    assert json.loads(found.out)["name"] == "Ada Lovelace"

    watched = await cli(dev, "watch", "entities.get", '{"id":"ada"}', "--limit", "1", "--json")
    assert watched.code == 0, watched
    first = json.loads(watched.out)
    assert (first["version"], first["result"]["name"]) == (1, "Ada Lovelace")

    tailed = await cli(dev, "tail", "changes.entities", "--since", "1h", "--limit", "1")
    assert tailed.code == 0, tailed
    assert "following one.v1.demo.changes.entities.* since" in tailed.err
    assert "Ada Lovelace" in tailed.out

    bad = await cli(dev, "publish", "entities.creator.upsert", '{"id": 1}', "--no-validate")
    assert bad.code == 0, bad

    async def dead_letters() -> Ran:
        return await cli(dev, "dlq", "list", "--json")

    listed = await eventually(dead_letters, lambda ran: bool(ran.out.strip()))
    [letter] = [json.loads(line) for line in listed.out.splitlines()]
    assert (letter["reason"], letter["subject"]) == (
        "invalid_payload",
        "one.v1.demo.entities.creator.upsert",
    )

    # Fixed, and replayed: stored, and the dead letter gone.
    fixed = dev.directory / "fixed.json"
    fixed.write_text(ADA.replace('"ada"', '"grace"').replace("Ada Lovelace", "Grace Hopper"))
    replayed = await cli(
        dev, "dlq", "replay", str(letter["seq"]), "--payload", str(fixed), "--json"
    )
    assert replayed.code == 0, replayed
    assert json.loads(replayed.out)["seq"] == letter["seq"]

    async def grace() -> Ran:
        return await cli(dev, "query", "entities.get", '{"id":"grace"}', "--compact")

    assert json.loads((await eventually(grace, lambda ran: ran.code == 0)).out)["name"] == (
        "Grace Hopper"
    )
    assert (await dead_letters()).out == ""

    def ingest_of(ran: Ran) -> dict[str, Any]:
        assert ran.code == 0, ran
        streams: list[dict[str, Any]] = json.loads(ran.out)["streams"]
        [ingest] = [s for s in streams if s["group"] == "ingest"]
        return ingest

    async def status() -> Ran:
        return await cli(dev, "status", "--json")

    # Everything published is processed: the ingest consumer's lag drains to 0.
    ingest = ingest_of(
        await eventually(status, lambda ran: ingest_of(ran)["consumers"][0]["lag"] == 0)
    )
    assert (ingest["name"], ingest["messages"], ingest["lastSeq"]) == ("ONE_INGEST", 3, 3)
    assert [c["lag"] for c in ingest["consumers"]] == [0]

    # The SDK, with what the docs import.
    async with OneClient("demo", ConnectionSpec(servers=[dev.nats_url])) as one:
        assert (await one.get_entity("ada")).name == "Ada Lovelace"
        with pytest.raises(NotFoundError):
            await one.get_entity("nobody")


async def test_publish_at_a_terminal_says_it_reads_stdin(dev: Dev) -> None:
    ran = await at_terminal(
        "publish", "entities.creator.upsert", answer=ADA + "\n\x04",
        nats_url=dev.nats_url, env={"ONE_TENANT": "demo"},
    )  # fmt: skip
    assert ran.code == 0, ran
    assert "reading the payload from stdin: type or paste it, then Ctrl-D" in ran.out
    # At a terminal, publish waits for the outcome.
    assert "stored" in ran.out
    assert ": entities ada created" in ran.out


async def test_the_secure_banner_keeps_each_uri_and_command_on_one_line(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        ONE_BUS, "dev", "--secure", "--nats-port", str(free_port()),
        "--mongo-port", str(free_port()), cwd=tmp_path, env=_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    banner: list[str] = []
    try:
        await _until(process.stdout, "Ctrl-C stops everything", banner)
        # The operator's command as the banner prints it, a TLS client call: no asyncio
        # warning about eof_received.
        [command] = [line.split()[1:] for line in banner if line.strip().startswith("operator")]
        assert command[:4] == ["one-bus", "dlq", "list", "--credentials"], command
        listed = await one_bus(*command[1:])
        assert listed.code == 0, listed
        assert listed.err.strip() == "0 dead letter(s)"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, "\n".join(banner) + rest.decode()
    [mongo] = [line for line in banner if line.strip().startswith("MongoDB")]
    ca = tmp_path / ".one-data"
    assert f"&tlsCAFile={ca}" in mongo, mongo
    assert mongo.endswith("(--auth, TLS)"), mongo
    [dlq] = [line for line in banner if line.strip().startswith("operator")]
    assert dlq.endswith("/specs/operator.json"), dlq
    assert "eof_received" not in "\n".join(banner) + rest.decode()

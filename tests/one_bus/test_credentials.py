"""A ConnectionSpec's credentials reach the server: a nats-server that requires a password."""

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.connection_spec import ConnectionSpec
from one_bus import OneClient, QueryUnavailableError
from services.runtime.embedded import HOST, find_executable, free_port
from tests.services.cli.command import one_bus

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def locked_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A nats-server of its own that lets in only user `acme` with password `secret`."""
    port = free_port()
    log = (tmp_path_factory.mktemp("locked") / "nats.log").open("wb")
    process = subprocess.Popen(
        [str(find_executable("nats-server")), "-a", HOST, "-p", str(port),
         "--user", "acme", "--pass", "secret"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection((HOST, port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"nats://{HOST}:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


async def test_user_and_password_from_the_spec_are_accepted(locked_server: str) -> None:
    spec = ConnectionSpec(servers=[locked_server], user="acme", password="secret")
    async with OneClient("acme", spec) as one:
        assert one.nats.is_connected
        # Connected and authenticated: the query fails only because no service runs here.
        with pytest.raises(QueryUnavailableError):
            await one.query("entities.get", {"id": "x"})


async def test_a_wrong_password_does_not_connect(locked_server: str) -> None:
    spec = ConnectionSpec(servers=[locked_server], user="acme", password="wrong")
    client = OneClient(
        "acme", spec, connect_timeout_s=5, allow_reconnect=False, max_reconnect_attempts=0
    )
    with pytest.raises(Exception, match=r"(?i)authoriz|no servers|timeout"):
        await client.start()


async def test_the_cli_connects_with_a_credentials_file(locked_server: str, tmp_path: Path) -> None:
    path = tmp_path / "acme.json"
    path.write_text(
        ConnectionSpec(servers=[locked_server], user="acme", password="secret").model_dump_json()
    )
    ran = await one_bus("query", "entities.get", '{"id": "x"}', "-t", "acme",
                        "--credentials", str(path))  # fmt: skip
    assert ran.code == 1
    assert "no query responder" in ran.err  # it got in: nobody answers on this server

    path.write_text(
        ConnectionSpec(servers=[locked_server], user="acme", password="wrong").model_dump_json()
    )
    refused = await one_bus("query", "entities.get", '{"id": "x"}', "-t", "acme",
                            "--credentials", str(path))  # fmt: skip
    assert (refused.code, "cannot connect to NATS" in refused.err) == (1, True)

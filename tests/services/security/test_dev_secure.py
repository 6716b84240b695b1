"""`one-bus dev --secure` as a user runs it: up with TLS and authentication, a tenant added
from another process publishes and queries with what `tenant add` printed, and nothing
it printed or logged holds a secret it should not."""

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import nats
import pytest

from contracts.connection_spec import ConnectionSpec
from services.runtime.embedded import free_port
from services.security.layout import SecureLayout
from services.security.roles import Role
from tests.fixtures.secure import connect
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.integration

ONE_BUS = str(Path(sys.executable).parent / "one-bus")


async def run(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        ONE_BUS, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    assert process.returncode == 0, err.decode()
    return process.returncode, out.decode()


async def test_dev_secure_end_to_end(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    dev = await asyncio.create_subprocess_exec(
        ONE_BUS, "dev", "--secure", "--data-dir", str(data_dir),
        "--nats-port", str(free_port()), "--mongo-port", str(free_port()),
        env={**os.environ, "COLUMNS": "300"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert dev.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(90):
            while not any("Ctrl-C" in line for line in lines):
                line = (await dev.stdout.readline()).decode()
                assert line, "".join(lines)
                lines.append(line)
        assert "secured" in "".join(lines)

        _, printed = await run("tenant", "add", "acme", "--data-dir", str(data_dir))
        publisher = ConnectionSpec.model_validate(json.loads(printed)["publisher"])
        assert publisher.servers[0].startswith("tls://")
        connection = await connect(publisher)
        try:
            await connection.client.jetstream().publish(
                "one.v1.acme.entities.creator.upsert",
                b'{"id":"c1","type":"creator","name":"Ada","updatedAt":1,"actorId":"u"}',
            )

            async def get() -> dict[str, object]:
                reply = await connection.client.request(
                    "one.v1.acme.query.entities.get", b'{"id":"c1"}', timeout=5
                )
                answer: dict[str, object] = json.loads(reply.data)
                return answer

            answer = await eventually(get, lambda a: a.get("ok") is True, timeout_s=30)
            assert answer["ok"] is True
        finally:
            await connection.client.close()

        # The operator's spec drives `one-bus dlq` (runs as operator).
        layout = SecureLayout(data_dir)
        dlq = await asyncio.create_subprocess_exec(
            ONE_BUS, "dlq", "list", "--json", "--credentials", str(layout.spec_path(Role.OPERATOR)),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        dlq_out, _ = await asyncio.wait_for(dlq.communicate(), timeout=60)
        assert dlq.returncode == 0, dlq_out.decode()

        await run("tenant", "remove", "acme", "--data-dir", str(data_dir))
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await connect(publisher)
    finally:
        if dev.returncode is None:
            dev.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(dev.communicate(), timeout=60)
    output = "".join(lines) + rest.decode()
    assert dev.returncode == 0, output
    secrets = [publisher.password or "?", layout.mongo_secrets().service_password]
    secrets += [layout.service_spec(role).password or "?" for role in Role if role.value in (
        "ingest", "query", "service", "operator")]  # fmt: skip
    for secret in secrets:
        assert secret not in output

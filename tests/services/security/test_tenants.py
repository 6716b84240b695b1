"""`one-bus tenant add | list | remove` against a running secure nats-server: in force
without a restart, and removing revokes (new connections refused, open ones closed)."""

import asyncio
import json
import os
import sys
from pathlib import Path

import nats
import pytest

from contracts.connection_spec import ConnectionSpec
from services.security.secure_dev import SecureStack
from tests.fixtures.secure import Connection, connect
from tests.fixtures.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("secure_bus")]

ONE_BUS = str(Path(sys.executable).parent / "one-bus")


async def tenant_cli(data_dir: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        ONE_BUS, "tenant", *args, "--data-dir", str(data_dir),
        env={**os.environ, "COLUMNS": "400"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def nats_pid(stack: SecureStack) -> int:
    return int(stack.layout.pid_file.read_text())


async def test_a_tenant_added_connects_at_once_and_a_removed_one_is_cut_off(
    secure_stack: SecureStack, connections: list[Connection]
) -> None:
    data_dir = secure_stack.layout.data_dir
    pid = nats_pid(secure_stack)
    code, out, err = await tenant_cli(data_dir, "add", "gamma")
    assert code == 0, err
    printed = json.loads(out)
    assert set(printed) == {"tenant", "publisher", "subscriber"}
    assert printed["tenant"] == "gamma"
    publisher = ConnectionSpec.model_validate(printed["publisher"])
    subscriber = ConnectionSpec.model_validate(printed["subscriber"])
    for spec in (publisher, subscriber):
        assert spec.user
        assert spec.password
        assert spec.inbox_prefix
        assert spec.tls_ca
        assert spec.servers == secure_stack.layout.service_spec_servers()

    # In force when the command returns, on the same server process (no restart).
    connection = await connect(publisher)
    connections.append(connection)
    ack = await connection.client.jetstream().publish(
        "one.v1.gamma.entities.creator.upsert",
        b'{"id":"g1","type":"creator","name":"G","updatedAt":1,"actorId":"u"}',
    )
    assert ack.stream == "ONE_INGEST_gamma"  # the per-tenant layout
    assert nats_pid(secure_stack) == pid

    code, out, _ = await tenant_cli(data_dir, "add", "gamma")
    assert code == 1  # exists: secrets are issued once
    code, out, _ = await tenant_cli(data_dir, "list")
    assert "gamma" in out.split()

    code, out, err = await tenant_cli(data_dir, "remove", "gamma")
    assert code == 0, err
    # The open connection is closed by the server, and no new one is let in.
    closed = await eventually(
        lambda: asyncio.sleep(0, connection.client.is_closed), bool, timeout_s=10
    )
    assert closed
    for spec in (publisher, subscriber):
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await connect(spec)
    code, out, _ = await tenant_cli(data_dir, "list")
    assert "gamma" not in out.split()
    assert nats_pid(secure_stack) == pid


async def test_tenant_names_are_checked(secure_stack: SecureStack) -> None:
    code, _, err = await tenant_cli(secure_stack.layout.data_dir, "add", "bad.name")
    assert code == 1
    assert "tenant" in err
    code, _, err = await tenant_cli(secure_stack.layout.data_dir, "remove", "nobody")
    assert code == 1

"""`one-bus tenant add | list | remove` against a running secure nats-server: in force
without a restart, and removing revokes (new connections refused, open ones closed); the
specs it writes are what client commands take as they are (no `-t`)."""

import asyncio
import json
import os
import sys
from pathlib import Path

import nats
import pytest

from contracts.connection_spec import ConnectionSpec
from services.runtime.secure_dev import SecureStack
from services.security.roles import TENANT_ROLES
from tests.fixtures.secure import Connection, connect
from tests.fixtures.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("secure_bus")]

ONE_BUS = str(Path(sys.executable).parent / "one-bus")


async def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    environment = {**os.environ, "COLUMNS": "400", **(env or {})}
    for unset in ("ONE_CREDENTIALS", "ONE_TENANT", "ONE_ROLE"):
        if unset not in (env or {}):
            environment.pop(unset, None)
    process = await asyncio.create_subprocess_exec(
        ONE_BUS, *args, env=environment, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def tenant_cli(
    data_dir: Path, *args: str, mongodb_uri: str | None = None
) -> tuple[int, str, str]:
    # MongoDB as a deployment names it (ONE_MONGODB_URI); its user comes from the layout.
    env = {"ONE_MONGODB_URI": mongodb_uri} if mongodb_uri else {}
    return await cli("tenant", *args, "--data-dir", str(data_dir), env=env)


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
    assert set(printed) == {"tenant", "quotas", *(role.value for role in TENANT_ROLES)}
    assert printed["tenant"] == "gamma"
    assert printed["quotas"] == {}
    publisher = ConnectionSpec.model_validate(printed["publisher"])
    subscriber = ConnectionSpec.model_validate(printed["subscriber"])
    for role in TENANT_ROLES:
        spec = ConnectionSpec.model_validate(printed[role.value])
        assert (spec.tenant, spec.role) == ("gamma", role.value)
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


def creator(entity_id: str) -> str:
    return json.dumps(
        {"id": entity_id, "type": "creator", "name": "D", "updatedAt": 1, "actorId": "u"}
    )


async def test_tenant_add_out_writes_one_spec_per_role_that_clients_take_as_is(
    secure_stack: SecureStack, tmp_path: Path
) -> None:
    data_dir = secure_stack.layout.data_dir
    out_dir = tmp_path / "specs"
    code, out, err = await tenant_cli(
        data_dir, "add", "demo", "--role", "org_user", "--role", "customer",
        "--out", str(out_dir), "--max-watches", "7",
    )  # fmt: skip
    assert code == 0, err
    printed = json.loads(out)
    assert printed["quotas"] == {"max_watches": 7}
    assert "password" not in out  # the secrets are in the files only
    files = {role: Path(path) for role, path in printed["files"].items()}
    assert set(files) == {"org_user", "customer"}
    for role, path in files.items():
        assert path.name == f"demo.{role}.json"
        assert path.stat().st_mode & 0o777 == 0o600
        spec = ConnectionSpec.model_validate_json(path.read_text())
        assert (spec.tenant, spec.role) == ("demo", role)

    # The tenant comes from the spec: no -t.
    user = str(files["org_user"])
    code, out, err = await cli(
        "publish", "entities.creator.upsert", creator("demo-1"), "--json", "--credentials", user
    )
    assert code == 0, err
    assert json.loads(out)["stream"] == "ONE_INGEST_demo"
    # The same tenant named again is fine; another one is refused before connecting.
    code, _, err = await cli(
        "publish", "entities.creator.upsert", creator("demo-2"), "-t", "demo",
        "--credentials", user,
    )  # fmt: skip
    assert code == 0, err
    code, _, err = await cli(
        "publish", "entities.creator.upsert", creator("demo-3"), "--credentials", user,
        env={"ONE_TENANT": "acme"},
    )  # fmt: skip
    assert code == 2
    assert "tenant 'demo'" in err
    code, out, err = await cli(
        "query", "entities.get", '{"id": "demo-1"}', "--credentials", str(files["customer"])
    )
    assert code in (0, 1), err  # found, or not yet stored: answered either way
    assert "timeout" not in err


async def test_the_combined_answer_is_taken_with_one_role(
    secure_stack: SecureStack, tmp_path: Path
) -> None:
    code, out, err = await tenant_cli(secure_stack.layout.data_dir, "add", "combo")
    assert code == 0, err
    combined = tmp_path / "combo.json"
    combined.write_text(out)
    code, out, err = await cli(
        "publish", "entities.creator.upsert", creator("combo-1"), "--json",
        "--credentials", str(combined), env={"ONE_ROLE": "org_owner"},
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["stream"] == "ONE_INGEST_combo"
    code, _, err = await cli(
        "publish", "entities.creator.upsert", creator("combo-2"), "--credentials", str(combined)
    )
    assert code == 2
    assert "ONE_ROLE" in err
    assert "--out" in err

    # The org owner reads its own dead letters (to replay them) from the same file.
    owner = {"ONE_ROLE": "org_owner"}
    code, _, err = await cli(
        "publish", "entities.creator.upsert", "{broken", "--no-validate",
        "--credentials", str(combined), env=owner,
    )  # fmt: skip
    assert code == 0, err
    code, out, err = await cli(
        "tail", "dlq", "--since", "1h", "--limit", "1", "--json",
        "--credentials", str(combined), env=owner,
    )  # fmt: skip
    assert code == 0, err
    letter = json.loads(out)
    assert letter["originalSubject"] == "one.v1.combo.entities.creator.upsert"


async def test_a_purge_is_refused_without_a_terminal_or_yes(secure_stack: SecureStack) -> None:
    data_dir = secure_stack.layout.data_dir
    code, _, err = await tenant_cli(data_dir, "add", "kept", "--role", "customer")
    assert code == 0, err
    code, _, err = await tenant_cli(data_dir, "remove", "kept", "--purge")
    assert code == 2
    assert "--yes" in err
    code, out, _ = await tenant_cli(data_dir, "list", "--json")
    listed = {row["tenant"]: row for row in json.loads(out)}
    assert listed["kept"]["roles"] == ["customer"]
    # As the operator of the layout, with MongoDB where the layout's servers run it (no
    # ONE_MONGODB_URI), as its service user.
    code, out, err = await tenant_cli(data_dir, "stats", "kept", "--json", "--interval", "0.1")
    assert code == 0, err
    [usage] = json.loads(out)
    assert usage["records"] == {"entities": 0, "connections": 0, "events": 0, "tags": 0}
    code, out, err = await tenant_cli(
        data_dir, "remove", "kept", "--purge", "--yes", "--json",
        mongodb_uri=secure_stack.settings.mongodb_uri,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["tenant"] == "kept"
    code, out, _ = await tenant_cli(data_dir, "list", "--json")
    assert "kept" not in {row["tenant"] for row in json.loads(out)}

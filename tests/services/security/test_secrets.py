"""Secrets stay secret: `one-bus serve` with credentials logs none of them (at debug
level), the servers' logs hold none, and connecting without credentials is warned."""

import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

import pytest

from services.runtime.secure_dev import SecureStack
from services.runtime.service import OneBusService
from services.security.roles import Role
from services.settings import Settings
from tests.fixtures.secure import TenantSpecs, connect

pytestmark = pytest.mark.integration

ONE_BUS = str(Path(sys.executable).parent / "one-bus")


async def test_serve_with_credentials_logs_no_secret(
    secure_stack: SecureStack, acme: TenantSpecs, tmp_path: Path
) -> None:
    layout, settings = secure_stack.layout, secure_stack.settings
    service = layout.service_spec(Role.SERVICE)
    assert service.password is not None
    assert settings.mongodb_password is not None
    nats_password = service.password
    mongo_password = settings.mongodb_password.get_secret_value()
    password_file = tmp_path / "nats-password"  # as a Kubernetes Secret is mounted
    password_file.write_text(nats_password + "\n")
    env = {
        **os.environ,
        "ONE_NATS_URL": settings.nats_url,
        "ONE_NATS_USER": service.user or "",
        "ONE_NATS_PASSWORD_FILE": str(password_file),
        "ONE_NATS_INBOX_PREFIX": service.inbox_prefix or "",
        "ONE_NATS_TLS_CA": service.tls_ca or "",
        "ONE_MONGODB_URI": settings.mongodb_uri,
        "ONE_MONGODB_DB": settings.mongodb_db,
        "ONE_MONGODB_USER": settings.mongodb_user or "",
        "ONE_MONGODB_PASSWORD": mongo_password,
        "ONE_INGEST_LAYOUT": settings.ingest_layout,
    }
    process = await asyncio.create_subprocess_exec(
        ONE_BUS, "serve", "--log-level", "debug", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            while not any("ONE Bus running" in line for line in lines):
                line = (await process.stdout.readline()).decode()
                assert line, "".join(lines)
                lines.append(line)
        # Work through it: a tenant's query, answered by one of the two replicas.
        publisher = await connect(acme.publisher)
        try:
            for n in range(10):
                reply = await publisher.client.request(
                    "one.v1.acme.query.entities.get", json.dumps({"id": f"n{n}"}).encode(), 5
                )
                assert json.loads(reply.data)["error"]["code"] == "not_found"
        finally:
            await publisher.client.close()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    output = "".join(lines) + rest.decode()
    assert process.returncode == 0, output
    assert "WITHOUT CREDENTIALS" not in output
    for secret in (nats_password, mongo_password, acme.publisher.password or "?"):
        assert secret not in output
    server_logs = [path.read_text() for path in (layout.data_dir / "logs").glob("*.log")]
    assert server_logs
    for text in server_logs:
        assert nats_password not in text
        assert mongo_password not in text


def test_settings_never_show_a_password() -> None:
    settings = Settings(nats_password="hunter2-nats", mongodb_password="hunter2-mongo")
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())


async def test_connecting_without_credentials_is_warned(
    bus_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with OneBusService(bus_settings, ingest=False, query=False):
        pass
    assert any("WITHOUT CREDENTIALS" in record.getMessage() for record in caplog.records)

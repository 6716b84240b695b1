"""`one-bus serve` logs as collectors read them: ONE_LOG_FORMAT=json is one JSON object a
line, and no line carries terminal colour codes, shutdown included."""

import asyncio
import json
import os
import signal
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ONE_BUS = str(Path(sys.executable).parent / "one-bus")


@pytest.mark.parametrize("log_format", ["json", "text"])
async def test_serve_logs_in_the_chosen_format_without_colour_codes(
    private_nats_url: str, mongodb_uri: str, log_format: str
) -> None:
    env = {
        **os.environ,
        "ONE_NATS_URL": private_nats_url,
        "ONE_MONGODB_URI": mongodb_uri,
        "ONE_MONGODB_DB": f"logs_{uuid.uuid4().hex[:8]}",
        "ONE_LOG_FORMAT": log_format,
    }
    process = await asyncio.create_subprocess_exec(
        ONE_BUS, "serve", "--log-level", "debug", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    while b"ONE Bus running" not in await asyncio.wait_for(process.stdout.readline(), 30):
        pass
    process.send_signal(signal.SIGTERM)
    rest, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    lines = [line for line in rest.decode().splitlines() if line.strip()]
    assert lines, "nothing logged on shutdown"
    assert not any("\x1b[" in line for line in lines)
    if log_format == "json":
        records = [json.loads(line) for line in lines]
        assert all({"time", "level", "logger", "message"} <= set(r) for r in records)

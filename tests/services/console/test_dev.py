"""`one-bus dev` (what `make run` runs) serves the console beside its servers."""

import asyncio
import re
import signal
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration

ONE_BUS = str(Path(sys.executable).parent / "one-bus")


async def test_dev_prints_the_consoles_url_and_serves_it(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        ONE_BUS, "dev", "--nats-port", "0", "--mongo-port", "0", "--console-port", "0",
        "--data-dir", str(tmp_path / "data"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    seen: list[str] = []
    try:

        async def console_line() -> re.Match[str] | None:
            while line := (await process.stdout.readline()).decode():  # type: ignore[union-attr]
                seen.append(line)
                if found := re.search(r"Console  (http://127\.0\.0\.1:\d+/)", line):
                    return found
            return None

        found = await asyncio.wait_for(console_line(), 120)
        assert found, "".join(seen)
        async with httpx.AsyncClient(base_url=found.group(1), timeout=30) as http:
            records = await http.get("/records")
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.communicate(), 60)

    assert records.status_code == 200
    assert "tenant <b>dev</b>" in records.text
    assert process.returncode == 0

"""The complete example of docs/sdk.md runs, as a user would run it, against real servers."""

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("bus")]

DOC = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"


def example() -> str:
    blocks: list[str] = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    return next(block for block in blocks if "asyncio.run(main())" in block)


async def test_the_complete_example_runs(nats_url: str, tenant: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(example())
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script),
        env={**os.environ, "ONE_NATS_URL": nats_url, "ONE_TENANT": tenant},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    text = output.decode()

    assert process.returncode == 0, text
    assert "Ada Lovelace: engines" in text
    assert "owns: ['Notes on the Analytical Engine']" in text
    assert "search: ['Ada Lovelace']" in text
    assert "event: payment_event processed" in text
    assert "not found: not_found" in text

"""The complete example of docs/sdk.md runs, as a user would run it, against real servers."""

import ast
import asyncio
import inspect
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
    assert "rejected: subject_mismatch" in text
    assert re.search(r"payment \S+ is ONE_INGEST #\d+: created", text), text


README = DOC.parents[1] / "README.md"


def readme_snippet() -> str:
    blocks: list[str] = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    return next(block for block in blocks if "from one_bus import OneClient" in block)


async def test_the_readme_snippet_runs_as_written(nats_url: str) -> None:
    """Top-level `await`, as in a notebook or `python -m asyncio`; against the test's
    servers instead of the default URL. Its read right after its writes finds them."""
    source = readme_snippet().replace("nats://127.0.0.1:4222", nats_url)
    code = compile(source, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict[str, object] = {}
    result = eval(code, namespace)
    if inspect.iscoroutine(result):
        await result
    creator = namespace["creator"]
    assert getattr(creator, "name", None) == "Ada Lovelace"

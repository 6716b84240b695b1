"""Running `one-bus` as users do: a separate process, its exit code, stdout and stderr."""

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ONE_BUS = str(Path(sys.executable).parent / "one-bus")


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


async def one_bus(
    *args: str,
    nats_url: str | None = None,
    stdin: str | None = None,
    timeout_s: float = 60,
    env: dict[str, str] | None = None,
) -> Ran:
    """`env` adds to (or, with an empty value, removes from) the inherited environment."""
    merged = {**os.environ, "COLUMNS": "400"}
    merged.pop("ONE_CREDENTIALS", None)
    merged.pop("ONE_TENANT", None)
    for name, value in (env or {}).items():
        if value:
            merged[name] = value
        else:
            merged.pop(name, None)
    env = merged
    if nats_url is not None:
        env["ONE_NATS_URL"] = nats_url
    process = await asyncio.create_subprocess_exec(
        ONE_BUS, *args, env=env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(
        process.communicate(stdin.encode() if stdin is not None else None), timeout=timeout_s
    )
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())

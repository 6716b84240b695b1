"""Running `one-bus` as users do: a separate process, its exit code, stdout and stderr."""

import asyncio
import os
import select
import subprocess
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


def _at_terminal(args: tuple[str, ...], answer: str, env: dict[str, str], timeout_s: float) -> Ran:
    main, child = os.openpty()
    try:
        process = subprocess.Popen(
            [ONE_BUS, *args], env=env, stdin=child, stdout=child, stderr=child, close_fds=True
        )
    finally:
        os.close(child)
    output = b""
    try:
        os.write(main, answer.encode())
        while True:
            ready, _, _ = select.select([main], [], [], timeout_s)
            if not ready:
                process.kill()
                break
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child closed the terminal (it exited)
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(main)
    code = process.wait(timeout=timeout_s)
    return Ran(code, output.decode(errors="replace").replace("\r\n", "\n"), "")


async def at_terminal(
    *args: str,
    answer: str = "",
    nats_url: str | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float = 60,
) -> Ran:
    """`one-bus` with a pseudo-terminal for stdin, stdout and stderr (as someone typing
    `answer`); everything it printed is in `out`."""
    merged = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    merged.pop("ONE_CREDENTIALS", None)
    merged.pop("ONE_TENANT", None)
    if nats_url is not None:
        merged["ONE_NATS_URL"] = nats_url
    merged.update(env or {})
    return await asyncio.to_thread(_at_terminal, args, answer, merged, timeout_s)

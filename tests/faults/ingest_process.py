"""`one-bus serve` as a child process, configured only by environment, to kill and restart.

The fault scenarios need a process they can SIGKILL (no cleanup at all) or SIGTERM (drain),
exactly as a container runtime would. Its output goes to a log file next to the servers'.
"""

import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

ONE_BUS = str(Path(sys.executable).parent / "one-bus")


class IngestProcess:
    def __init__(self, name: str, env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self._env = {**os.environ, **env}
        self.log_path = log_dir / f"{name}.log"
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                ONE_BUS, "serve", "--log-level", "warning",
                env=self._env, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def kill(self) -> None:
        """SIGKILL: no drain, no acks, no cleanup; whatever was in flight is in flight."""
        process = self._require()
        process.send_signal(signal.SIGKILL)
        await process.wait()

    async def terminate(self, within_s: float) -> int | None:
        """SIGTERM, then the exit code, or None if it had not exited within `within_s`."""
        process = self._require()
        process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), within_s)
        except TimeoutError:
            return None

    async def stop(self) -> None:
        """Teardown: whatever state it is in, it is gone afterwards."""
        if self.running:
            await self.terminate(30)
        if self.running:
            await self.kill()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _require(self) -> asyncio.subprocess.Process:
        if self._process is None or self._process.returncode is not None:
            raise RuntimeError(f"{self.name} is not running:\n{self.log_tail()}")
        return self._process

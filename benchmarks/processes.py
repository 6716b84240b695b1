"""Starting benchmark service processes (service_process.py) and stopping them."""

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# A slow machine starts a service process in seconds; these only bound a stuck one.
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 120.0


@dataclass(slots=True)
class ServiceProcess:
    process: asyncio.subprocess.Process
    stats_path: Path
    # Filled in when the process has stopped.
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.asynccontextmanager
async def service_processes(
    role: str, count: int, env: Mapping[str, str]
) -> AsyncIterator[list[ServiceProcess]]:
    """`count` processes in `role` (ingest, query, echo), started and ready; on exit they
    get SIGTERM, and each one's command statistics are read into `stats`."""
    with tempfile.TemporaryDirectory(prefix="one-bench-stats-") as directory:
        processes: list[ServiceProcess] = []
        try:
            for n in range(count):
                stats_path = Path(directory) / f"{role}-{n}.json"
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "benchmarks.service_process",
                    role,
                    str(stats_path),
                    env={**os.environ, **env},
                    stdout=asyncio.subprocess.PIPE,
                )
                processes.append(ServiceProcess(process, stats_path))
            for service in processes:
                assert service.process.stdout is not None
                line = await asyncio.wait_for(service.process.stdout.readline(), START_TIMEOUT_S)
                if line.strip() != b"ready":
                    raise RuntimeError(f"{role} process did not start (exit {line!r})")
            yield processes
        finally:
            for service in processes:
                if service.process.returncode is None:
                    service.process.send_signal(signal.SIGTERM)
            stuck = [service.pid for service in processes if not await _stopped(service)]
            for service in processes:
                if service.stats_path.exists():
                    service.stats = json.loads(service.stats_path.read_text())
            if stuck:
                # Killed rather than left running: an orphan would hold the benchmark's
                # output pipe open, and whoever reads it would wait for ever.
                raise RuntimeError(f"{role} processes {stuck} did not stop on SIGTERM: killed")


async def _stopped(service: ServiceProcess) -> bool:
    """Whether the process stopped within its drain (every part of a service drains for up
    to `drain_timeout_s` in turn); else it is killed, and waited for."""
    try:
        await asyncio.wait_for(service.process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        service.process.kill()
        await service.process.wait()
        return False
    return True

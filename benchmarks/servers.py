"""The servers a benchmark runs against: the service's own environment, else embedded ones.

`ONE_NATS_URL` and `ONE_MONGODB_URI` set (a real MongoDB, a NATS cluster): those are used
and nothing is started. Neither set: nats-server and SecantusDB are started in a temporary
directory, in the durable configuration the service runs with by default
(`--sync-on-commit`, writes with `j: true`).
"""

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from services.runtime.embedded import EmbeddedServers


@dataclass(frozen=True, slots=True)
class Servers:
    nats_url: str
    mongodb_uri: str
    # "embedded" or "external": printed beside the figures.
    kind: str
    # Embedded only: process id by server ("nats-server", "store"), whose CPU time the
    # CPU benchmark reports beside the service's.
    pids: dict[str, int] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def servers() -> AsyncIterator[Servers]:
    nats_url = os.environ.get("ONE_NATS_URL")
    mongodb_uri = os.environ.get("ONE_MONGODB_URI")
    if nats_url and mongodb_uri:
        yield Servers(nats_url, mongodb_uri, "external")
        return
    if nats_url or mongodb_uri:
        raise SystemExit("set both ONE_NATS_URL and ONE_MONGODB_URI, or neither (embedded)")
    with tempfile.TemporaryDirectory(prefix="one-bench-") as data:
        async with EmbeddedServers(Path(data)) as embedded:
            yield Servers(embedded.nats_url, embedded.mongodb_uri, "embedded", _server_pids())


def _server_pids() -> dict[str, int]:
    """The embedded servers among this process's children, by what they are."""
    pids = {}
    for child in psutil.Process().children(recursive=True):
        name = child.name()
        if name.startswith("nats-server"):
            pids["nats-server"] = child.pid
        elif name.startswith("secantus"):
            pids["store"] = child.pid
    return pids

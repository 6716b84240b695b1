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
from dataclasses import dataclass
from pathlib import Path

from services.runtime.embedded import EmbeddedServers


@dataclass(frozen=True, slots=True)
class Servers:
    nats_url: str
    mongodb_uri: str
    # "embedded" or "external": printed beside the figures.
    kind: str


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
            yield Servers(embedded.nats_url, embedded.mongodb_uri, "embedded")

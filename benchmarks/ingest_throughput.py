"""Ingest drain throughput: the batched pipeline against the same pipeline one message at a time.

Each run starts from empty streams and an empty database, publishes the whole workload
first, then starts the service and times how long it takes until the durable consumer
has nothing pending and nothing unacknowledged (everything written, changes published,
acked). Runs alternate between the two configurations so that machine noise hits both.
"""

import asyncio
import time
import tracemalloc
from dataclasses import dataclass

import nats

from benchmarks.streams import fresh_streams, publish_all
from benchmarks.workload import messages
from services.ingest.lanes import ingest_progress
from services.runtime.service import OneBusService
from services.settings import Settings


@dataclass(frozen=True)
class Run:
    batch_size: int
    seconds: float
    messages: int
    peak_traced_mib: float

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds


async def run_once(
    nats_url: str, mongodb_uri: str, batch_size: int, count: int, tag: str, *, journal: bool = True
) -> Run:
    settings = Settings(
        nats_url=nats_url,
        mongodb_uri=mongodb_uri,
        mongodb_db=f"bench_{tag}",
        batch_size=batch_size,
        mongodb_journal=journal,
    )
    client = await nats.connect(nats_url)
    js = client.jetstream()
    await fresh_streams(js, settings)
    await publish_all(js, messages("bench", count))

    tracemalloc.start()
    started = time.perf_counter()
    async with OneBusService(settings, query=False):
        while True:
            progress = await ingest_progress(client, settings)
            if progress.drained and progress.delivered >= count:
                break
            await asyncio.sleep(0.02)
        seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    await client.close()
    return Run(batch_size, seconds, count, peak / 2**20)

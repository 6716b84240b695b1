"""The ingest process's resident memory over a sustained run: flat after warm-up.

One ingest process drains `count` mixed messages published while it runs; its RSS
(psutil) is sampled every half second with how many messages the consumer has acked.
Growth is the last sample over the first one after warm-up (a fifth of the messages).
"""

import asyncio
import time
from dataclasses import dataclass

import nats
import psutil

from benchmarks.ingest import service_env
from benchmarks.processes import service_processes
from benchmarks.servers import Servers
from benchmarks.streams import fresh_streams, publish_all
from benchmarks.workload import messages
from services.ingest.lanes import ingest_progress
from services.settings import Settings

WARM_UP = 0.2


@dataclass(frozen=True, slots=True)
class RssRun:
    messages: int
    seconds: float
    # (seconds since start, messages acked, RSS in MiB)
    samples: list[tuple[float, int, float]]

    @property
    def after_warm_up(self) -> list[float]:
        return [rss for _, acked, rss in self.samples if acked >= self.messages * WARM_UP]

    @property
    def growth(self) -> float:
        """Last RSS after warm-up ÷ first RSS after warm-up - 1."""
        steady = self.after_warm_up
        return steady[-1] / steady[0] - 1 if steady else 0.0

    @property
    def spread(self) -> float:
        """(max - min) ÷ min of the RSS after warm-up."""
        steady = self.after_warm_up
        return (max(steady) - min(steady)) / min(steady) if steady else 0.0


async def run(servers: Servers, count: int) -> RssRun:
    settings = Settings(
        nats_url=servers.nats_url,
        mongodb_uri=servers.mongodb_uri,
        mongodb_db="bench_rss",
    )
    client = await nats.connect(settings.nats_url)
    js = client.jetstream()
    await fresh_streams(js, settings)
    samples: list[tuple[float, int, float]] = []
    async with service_processes("ingest", 1, service_env(settings)) as running:
        process = psutil.Process(running[0].pid)
        publisher = asyncio.create_task(publish_all(js, messages("bench", count)))
        started = time.perf_counter()
        while True:
            progress = await ingest_progress(client, settings)
            acked = progress.ack_floor
            rss = process.memory_info().rss / 2**20
            samples.append((time.perf_counter() - started, acked, rss))
            if acked >= count and progress.drained:
                break
            await asyncio.sleep(0.5)
        seconds = time.perf_counter() - started
        await publisher
    await client.close()
    return RssRun(count, seconds, samples)

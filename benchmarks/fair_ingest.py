"""Tenancy, ingest half: one tenant's backlog against ten tenants' steady writes.

Tenant `bulk` holds a backlog (`--tenancy-backlog`, 100,000 by default) in the shared
ingest stream; one ingest process drains it twice in the same run: alone, then while ten
other tenants each publish `--tenancy-rate` events a second. Reported: the others'
publish→stored latency (from just before the publish to the arrival of the change ONE
Bus publishes once the record is stored: what a subscriber sees), p50/p99/max, and the
backlog's drain rate (its changes from the first to the last) with them against alone.
"""

import asyncio
import contextlib
import json
import statistics
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from benchmarks.ingest import service_env
from benchmarks.processes import service_processes
from benchmarks.servers import Servers
from benchmarks.streams import fresh_streams, publish_all
from contracts.subjects import change_subject, event_subject
from services.settings import Settings

BULK = "bulk"


@dataclass(frozen=True, slots=True)
class FairIngestResult:
    backlog: int
    tenants: int
    rate_per_tenant: float
    batch_size: int
    # The others' writes stored while the backlog drained.
    samples: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    drain_alone_per_s: float
    drain_shared_per_s: float

    @property
    def drain_ratio(self) -> float:
        return self.drain_shared_per_s / self.drain_alone_per_s

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drain_ratio": self.drain_ratio}


def _event(tenant: str, n: int) -> tuple[str, bytes]:
    body = (
        f'{{"id":"e{n}","type":"user_login","actorId":"u{n % 100}",'
        f'"timestamp":{n},"metadata":{{"n":{n}}}}}'
    )
    return event_subject(tenant, "user_login"), body.encode()


class _BulkWatch:
    """Arrival times of the backlog's changes: when its drain started and ended."""

    def __init__(self, backlog: int) -> None:
        self.backlog = backlog
        self.first = 0.0
        self.last = 0.0
        self.seen = 0
        self.started = asyncio.Event()
        self.done = asyncio.Event()

    async def arrived(self, _: Msg) -> None:
        now = time.perf_counter()
        self.seen += 1
        if self.seen == 1:
            self.first = now
            self.started.set()
        if self.seen >= self.backlog:
            self.last = now
            self.done.set()

    @property
    def rate(self) -> float:
        return (self.seen - 1) / (self.last - self.first) if self.last > self.first else 0.0


async def _drain(
    client: NatsClient,
    settings: Settings,
    backlog: int,
    tenants: int,
    rate: float,
) -> tuple[float, list[float]]:
    """One drain of the backlog into a database of its own, with `tenants` others
    publishing (0: alone); returns the drain rate and the others' latencies in ms."""
    settings = settings.model_copy(update={"mongodb_db": f"bench_fair_{uuid.uuid4().hex[:6]}"})
    js = client.jetstream()
    await fresh_streams(js, settings)
    await publish_all(js, (_event(BULK, n) for n in range(backlog)))
    bulk = _BulkWatch(backlog)
    subscriptions = [await client.subscribe(change_subject(BULK, "events", ">"), cb=bulk.arrived)]
    sent: dict[str, float] = {}
    latencies: list[float] = []
    everything_stored = asyncio.Event()

    async def stored(msg: Msg) -> None:
        tenant = msg.subject.split(".")[2]
        start = sent.pop(f"{tenant}/{json.loads(msg.data)['record']['id']}", None)
        if start is not None:
            latencies.append((time.perf_counter() - start) * 1000)
        if not sent and bulk.done.is_set():
            everything_stored.set()

    others = [f"t{n}-{uuid.uuid4().hex[:4]}" for n in range(tenants)]
    for tenant in others:
        subscriptions.append(
            await client.subscribe(change_subject(tenant, "events", ">"), cb=stored)
        )

    async def steady(tenant: str) -> None:
        n = 0
        interval = 1 / rate
        next_at = time.perf_counter()
        while not bulk.done.is_set():
            subject, data = _event(tenant, n)
            sent[f"{tenant}/e{n}"] = time.perf_counter()
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                await js.publish(subject, data)
            n += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    env = {**service_env(settings), "ONE_BATCH_SIZE": str(settings.batch_size)}
    async with service_processes("ingest", 1, env):
        await asyncio.wait_for(bulk.started.wait(), 600)
        publishers = [asyncio.create_task(steady(tenant)) for tenant in others]
        await asyncio.wait_for(bulk.done.wait(), 1800)
        await asyncio.gather(*publishers)
        # The others' last writes, published just before the backlog's end.
        if sent:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(everything_stored.wait(), 10)
    for subscription in subscriptions:
        await subscription.unsubscribe()
    return bulk.rate, latencies


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run(
    servers: Servers, backlog: int, tenants: int = 10, rate: float = 20.0, batch_size: int = 512
) -> FairIngestResult:
    settings = Settings(
        nats_url=servers.nats_url, mongodb_uri=servers.mongodb_uri, batch_size=batch_size
    )
    client = await nats.connect(settings.nats_url)
    try:
        alone, _ = await _drain(client, settings, backlog, 0, rate)
        shared, latencies = await _drain(client, settings, backlog, tenants, rate)
    finally:
        await client.close()
    return FairIngestResult(
        backlog=backlog,
        tenants=tenants,
        rate_per_tenant=rate,
        batch_size=batch_size,
        samples=len(latencies),
        p50_ms=statistics.median(latencies) if latencies else 0.0,
        p99_ms=_percentile(latencies, 0.99),
        max_ms=max(latencies, default=0.0),
        drain_alone_per_s=alone,
        drain_shared_per_s=shared,
    )

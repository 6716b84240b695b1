"""Live queries at scale: N watches in one query process, push latency, unrelated changes.

`python -m benchmarks.watch_latency [--watches N] [--writes W] [--unrelated U]` starts its
own embedded servers (nats-server, SecantusDB) and ONE Bus in this process, then:

1. starts N watches over NATS (half `entities.get {id: e<i>}`, half
   `events.list {actorId: u<i>}`), each pushing to an inbox of its own;
2. publishes W writes, one every `--interval-ms`, each changing the result of one watch
   (an entity upsert or an event of a watched actor), and measures from just before the
   JetStream publish to the arrival of that watch's push: p50, p99, max;
3. publishes U unrelated writes (entities and events nobody watches, each also an audit
   event) and counts the store reads the watch side made meanwhile: it should be 0;
4. publishes a burst of B events of one watched actor at once, and counts the pushes its
   watch gets (coalescing) and the time until the push showing the last event;
5. renews every watch once (64 requests in flight): renewals per second.

The service, its ingest and this client share one Python process and 2 cores with the
servers, so the latencies include that contention.
"""

import argparse
import asyncio
import json
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nats
from nats.aio.msg import Msg
from rich.console import Console
from rich.table import Table

from contracts.clock import now_ms
from contracts.nats_headers import HEADER_MSG_ID
from contracts.subjects import WATCH_RENEW, entity_subject, event_subject, watch_subject
from services.runtime.embedded import EmbeddedServers
from services.runtime.service import OneBusService
from services.settings import Settings
from services.watch.service import WatchService

console = Console()
TENANT = "bench"


def watch_request(index: int) -> tuple[str, dict[str, object]]:
    if index % 2 == 0:
        return "entities.get", {"id": f"e{index}"}
    return "events.list", {"actorId": f"u{index}", "limit": 10}


def write_for(index: int, n: int) -> tuple[str, dict[str, object]]:
    """A write that changes the result of watch `index`."""
    if index % 2 == 0:
        return entity_subject(TENANT, "creator", "upsert"), {
            "id": f"e{index}", "type": "creator", "name": f"version {n}",
            "updatedAt": now_ms(), "actorId": "bench",
        }  # fmt: skip
    return event_subject(TENANT, "payment_event"), {
        "id": f"ev{n}", "type": "payment_event", "actorId": f"u{index}",
        "timestamp": now_ms(), "metadata": {"status": "processed"},
    }  # fmt: skip


def unrelated_write(n: int) -> tuple[str, dict[str, object]]:
    """A write no watch can see: an entity nobody watches, an event of an unwatched actor."""
    if n % 2 == 0:
        return entity_subject(TENANT, "creator", "upsert"), {
            "id": f"x{n}", "type": "creator", "name": "x", "updatedAt": now_ms(),
            "actorId": "bench",
        }  # fmt: skip
    return event_subject(TENANT, "payment_event"), {
        "id": f"evx{n}", "type": "payment_event", "actorId": "nobody", "timestamp": now_ms(),
        "metadata": {"status": "processed"},
    }  # fmt: skip


async def wait_until(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            return
        await asyncio.sleep(0.1)


async def main(watches: int, writes: int, unrelated: int, interval_ms: float, burst: int) -> None:
    with tempfile.TemporaryDirectory(prefix="one-bench-") as data:
        async with EmbeddedServers(Path(data)) as servers:
            settings = Settings(
                nats_url=servers.nats_url,
                mongodb_uri=servers.mongodb_uri,
                mongodb_db="watch_bench",
                watch_lease_s=3600,
                # The benchmark's watches, and the one that takes the burst.
                watch_max_per_tenant=watches + 1,
                watch_max_per_connection=watches + 1,
            )
            async with OneBusService(settings) as service:
                assert service.watches is not None
                await measure(service.watches, servers.nats_url, watches, writes, unrelated,
                              interval_ms, burst)  # fmt: skip


async def measure(
    service: WatchService, nats_url: str, watches: int, writes: int, unrelated: int,
    interval_ms: float, burst: int,
) -> None:  # fmt: skip
    client = await nats.connect(nats_url)
    js = client.jetstream(timeout=10)
    published: dict[int, float] = {}
    latencies_ms: list[float] = []
    pushes = 0

    async def pushed(msg: Msg) -> None:
        nonlocal pushes
        pushes += 1
        index = int(msg.subject.rsplit(".", 1)[1])
        started = published.pop(index, None)
        if started is not None:
            latencies_ms.append((time.perf_counter() - started) * 1000)

    await client.subscribe("_INBOX.bench.>", cb=pushed)

    started = time.perf_counter()
    slots = asyncio.Semaphore(64)
    watch_ids: list[str] = []

    async def start(index: int) -> None:
        name, request = watch_request(index)
        body = json.dumps({**request, "deliverTo": f"_INBOX.bench.{index}"}).encode()
        async with slots:
            reply = await client.request(watch_subject(TENANT, name), body, timeout=60)
        answer = json.loads(reply.data)
        assert answer["ok"], reply.data
        watch_ids.append(answer["data"]["watchId"])

    await asyncio.gather(*(start(index) for index in range(watches)))
    created_s = time.perf_counter() - started
    console.print(f"{watches} watches started in {created_s:.1f} s "
                  f"({watches / created_s:.0f}/s); serving {len(service.registry)}")  # fmt: skip

    # Each write changes exactly one watch's result; one write per watch, spread out.
    targets = random.Random(1).sample(range(watches), min(writes, watches))
    for n, index in enumerate(targets):
        subject, payload = write_for(index, n)
        published[index] = time.perf_counter()
        await js.publish(subject, json.dumps(payload).encode(),
                         headers={HEADER_MSG_ID: f"w{n}"})  # fmt: skip
        await asyncio.sleep(interval_ms / 1000)
    await wait_until(lambda: not published, 30)
    missing = len(published)

    # Unrelated writes: nobody watches these entities or actors (each upsert is also an
    # audit event of actor "bench", unwatched too).
    reads, seen = service.evaluator.reads, service.changes_seen
    for n in range(unrelated):
        subject, body = unrelated_write(n)
        await js.publish(subject, json.dumps(body).encode(), headers={HEADER_MSG_ID: f"x{n}"})
    expected = unrelated + (unrelated + 1) // 2  # events, entities and their audit events
    await wait_until(lambda: service.changes_seen >= seen + expected, 60)
    await asyncio.sleep(0.5)  # past the coalescing window: any read would have happened
    unrelated_reads = service.evaluator.reads - reads
    unrelated_seen = service.changes_seen - seen

    # A burst: `burst` events of one watched actor published at once; how many pushes
    # reach its watch, and when the one showing the last event arrives.
    burst_watch = 1  # events.list {actorId: u1, limit: 10}
    burst_pushes: list[tuple[float, list[str]]] = []

    async def burst_pushed(msg: Msg) -> None:
        items = json.loads(msg.data)["result"]["items"]
        burst_pushes.append((time.perf_counter(), [item["id"] for item in items]))

    await client.subscribe(f"_INBOX.burst.{burst_watch}", cb=burst_pushed)
    body = {**watch_request(burst_watch)[1], "deliverTo": f"_INBOX.burst.{burst_watch}"}
    reply = await client.request(
        watch_subject(TENANT, "events.list"), json.dumps(body).encode(), 10
    )
    assert json.loads(reply.data)["ok"], reply.data
    last_id = f"burst{burst - 1}"
    burst_started = time.perf_counter()
    await asyncio.gather(
        *(
            js.publish(
                event_subject(TENANT, "payment_event"),
                json.dumps(
                    {
                        "id": f"burst{n}",
                        "type": "payment_event",
                        "actorId": "u1",
                        "timestamp": now_ms() + n,
                        "metadata": {"status": "processed"},
                    }
                ).encode(),
            )
            for n in range(burst)
        )
    )

    await wait_until(lambda: any(last_id in ids for _, ids in burst_pushes), 30)
    arrived = [at for at, ids in burst_pushes if last_id in ids]
    burst_ms = (arrived[0] - burst_started) * 1000 if arrived else float("nan")

    # Renewals: every watch renewed once, 64 requests in flight (what keeping them alive
    # costs: the SDK renews each at a third of its lease).
    async def renew(watch_id: str) -> None:
        async with slots:
            reply = await client.request(
                watch_subject(TENANT, WATCH_RENEW), json.dumps({"watchId": watch_id}).encode(), 60
            )
        assert json.loads(reply.data)["ok"], reply.data

    renew_started = time.perf_counter()
    await asyncio.gather(*(renew(watch_id) for watch_id in watch_ids))
    renewals_per_s = len(watch_ids) / (time.perf_counter() - renew_started)
    await client.close()

    table = Table(title=f"Live queries: {watches} watches in one process, {writes} writes "
                        f"every {interval_ms:g} ms")  # fmt: skip
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("watches started (s)", f"{created_s:.1f}")
    table.add_row("push latency p50 (ms)", f"{statistics.median(latencies_ms):.1f}")
    p99 = statistics.quantiles(latencies_ms, n=100, method="inclusive")[98]
    table.add_row("push latency p99 (ms)", f"{p99:.1f}")
    table.add_row("push latency max (ms)", f"{max(latencies_ms):.1f}")
    table.add_row("writes without a push in 30 s", str(missing))
    table.add_row("unrelated changes seen", str(unrelated_seen))
    table.add_row("store reads for them", str(unrelated_reads))
    table.add_row(f"burst of {burst} events: pushes to its watch", str(len(burst_pushes)))
    table.add_row("burst: first publish to the push showing the last (ms)", f"{burst_ms:.0f}")
    table.add_row("renewals per second (every watch once)", f"{renewals_per_s:.0f}")
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    table.add_row("process max RSS (MiB)", f"{rss_mib:.0f}")
    console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--watches", type=int, default=10_000)
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--unrelated", type=int, default=300)
    parser.add_argument("--interval-ms", type=float, default=50.0)
    parser.add_argument("--burst", type=int, default=200)
    arguments = parser.parse_args()
    asyncio.run(
        main(
            arguments.watches,
            arguments.writes,
            arguments.unrelated,
            arguments.interval_ms,
            arguments.burst,
        )
    )

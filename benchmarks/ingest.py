"""Ingest throughput against the raw limits of the same servers, in the same run.

For one workload and a number of ingest processes, three measurements on the same
published messages, in an order that alternates between rounds:

- ONE Bus: the messages are published first, then the ingest processes start; records per
  second from the first store write to the last (PyMongo command monitoring in each
  process), and the store commands per message (`DATA_COMMANDS`);
- raw NATS: a plain nats-py pull consumer on the same stream that fetches a batch
  (`ONE_BATCH_SIZE`, as ingest does) and acks each message, as many consumers as ingest
  processes;
- raw store: a plain PyMongo bulk insert of the very documents ONE Bus stored (entities
  with their lifecycle events) into a fresh database with the same indexes and the same
  write concern, a batch of documents per insert, one collection after the other as ONE
  Bus writes them, the inserts split among as many concurrent writers as ingest
  processes.

Efficiency is ONE Bus ÷ the smaller of the two limits.
"""

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from pymongo import AsyncMongoClient, WriteConcern
from pymongo.asynchronous.database import AsyncDatabase

from benchmarks.processes import service_processes
from benchmarks.servers import Servers
from benchmarks.streams import fresh_streams, publish_all
from benchmarks.workload import WORKLOADS
from contracts.subjects import ALL_SUBJECTS
from services.ingest.lanes import ingest_progress
from services.settings import Settings
from services.store.mongodb.indexes import ensure_indexes

Document = dict[str, Any]
COLLECTIONS = ("entities", "events", "connections", "tags")
# The commands that read or write records: what a round trip per message counts. The
# readiness probe's `ping` and the `endSessions` at exit happen whatever the load.
DATA_COMMANDS = frozenset(
    {"find", "getMore", "aggregate", "insert", "update", "delete", "findAndModify",
     "commitTransaction", "abortTransaction"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class IngestRound:
    workload: str
    processes: int
    round: int
    messages: int
    bus_per_s: float
    nats_per_s: float
    store_per_s: float
    round_trips_per_message: float
    commands: dict[str, int]
    # Seconds the store took, by kind of command (`insert events`, ...), all processes.
    store_seconds: dict[str, float]

    @property
    def efficiency(self) -> float:
        return self.bus_per_s / min(self.nats_per_s, self.store_per_s)


def _settings(servers: Servers, database: str) -> Settings:
    return Settings(
        nats_url=servers.nats_url,
        mongodb_uri=servers.mongodb_uri,
        mongodb_db=database,
    )


def service_env(settings: Settings) -> dict[str, str]:
    """The `ONE_*` variables a service process needs to run with `settings`."""
    return {
        "ONE_NATS_URL": settings.nats_url,
        "ONE_MONGODB_URI": settings.mongodb_uri,
        "ONE_MONGODB_DB": settings.mongodb_db,
        "ONE_MONGODB_JOURNAL": str(settings.mongodb_journal).lower(),
    }


async def publish(settings: Settings, workload: str, count: int) -> None:
    """Fresh streams holding the workload's messages."""
    client = await nats.connect(settings.nats_url)
    js = client.jetstream()
    await fresh_streams(js, settings)
    await publish_all(js, WORKLOADS[workload]("bench", count))
    await client.close()


async def drained(client: NatsClient, settings: Settings, count: int) -> None:
    """Once ingest's lanes have taken and finished `count` messages."""
    while True:
        progress = await ingest_progress(client, settings)
        if progress.drained and progress.delivered >= count:
            return
        await asyncio.sleep(0.02)


async def run_bus(
    settings: Settings, processes: int, count: int
) -> tuple[float, float, dict[str, int], dict[str, float]]:
    """(records/s from the first store write to the last, store commands per message,
    the commands by name, the store's seconds by kind of command)."""
    client = await nats.connect(settings.nats_url)
    async with service_processes("ingest", processes, service_env(settings)) as running:
        await asyncio.wait_for(drained(client, settings, count), 600)
    await client.close()
    starts = [p.stats["first_write_started"] for p in running]
    ends = [p.stats["last_write_finished"] for p in running]
    commands: Counter[str] = Counter()
    seconds: defaultdict[str, float] = defaultdict(float)
    for p in running:
        commands.update(p.stats["commands"])
        for kind, spent in p.stats["seconds"].items():
            seconds[kind] += spent
    seconds_total = max(e for e in ends if e) - min(s for s in starts if s)
    trips = sum(n for name, n in commands.items() if name in DATA_COMMANDS)
    data_seconds = {k: v for k, v in seconds.items() if k.split(" ")[0] in DATA_COMMANDS}
    return count / seconds_total, trips / count, dict(commands), data_seconds


async def run_raw_nats(settings: Settings, consumers: int, count: int, name: str) -> float:
    """Records/s of plain pull consumers that fetch a batch and ack each message."""
    client = await nats.connect(settings.nats_url)
    js = client.jetstream()
    await js.add_consumer(
        settings.ingest_stream,
        ConsumerConfig(durable_name=name, ack_policy=AckPolicy.EXPLICIT, max_ack_pending=4096),
    )
    subscriptions = [
        await js.pull_subscribe(ALL_SUBJECTS, durable=name, stream=settings.ingest_stream)
        for _ in range(consumers)
    ]
    acked = 0
    done = asyncio.get_running_loop().create_future()

    async def drain(subscription: JetStreamContext.PullSubscription) -> None:
        nonlocal acked
        while acked < count:
            try:
                batch = await subscription.fetch(settings.batch_size, timeout=0.2)
            except TimeoutError:
                continue
            for msg in batch:
                await msg.ack()
            acked += len(batch)
        await client.flush()
        if not done.done():
            # The other consumers may still wait out a fetch that gets nothing.
            done.set_result(time.perf_counter())

    started = time.perf_counter()
    await asyncio.gather(*(drain(s) for s in subscriptions))
    finished: float = done.result()
    seconds = finished - started
    await js.delete_consumer(settings.ingest_stream, name)
    await client.close()
    return count / seconds


async def stored_documents(settings: Settings) -> dict[str, list[Document]]:
    """What ONE Bus stored, collection by collection, in `_id` order."""
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(settings.mongodb_uri)
    database = mongo[settings.mongodb_db]
    documents = {
        name: await database[name].find({}).sort("_id", 1).to_list() for name in COLLECTIONS
    }
    await mongo.close()
    return documents


async def run_raw_store(
    settings: Settings, documents: dict[str, list[Document]], writers: int, count: int, db: str
) -> float:
    """Records/s of plain bulk inserts of `documents` (same indexes, same write concern)."""
    chunk_size = settings.batch_size
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(settings.mongodb_uri)
    concern = WriteConcern(w="majority", j=settings.mongodb_journal)
    database: AsyncDatabase[Document] = mongo.get_database(db, write_concern=concern)
    await ensure_indexes(database)

    async def insert(chunks: Sequence[tuple[str, list[Document]]]) -> None:
        for name, chunk in chunks:
            await database[name].insert_many(chunk, ordered=False)

    chunks = [
        (name, documents[name][i : i + chunk_size])
        for name in COLLECTIONS
        for i in range(0, len(documents[name]), chunk_size)
    ]
    started = time.perf_counter()
    await asyncio.gather(*(insert(chunks[writer::writers]) for writer in range(writers)))
    seconds = time.perf_counter() - started
    await mongo.close()
    return count / seconds


async def run_round(
    servers: Servers,
    workload: str,
    processes: int,
    round_: int,
    count: int,
    documents_cache: dict[str, dict[str, list[Document]]],
    *,
    keep: bool = False,
) -> IngestRound:
    """One round; the databases it wrote are dropped unless `keep` (ONE Bus's is kept)."""
    tag = f"{workload.replace(' ', '_')}_{processes}_{round_}"
    settings = _settings(servers, f"bench_{tag}")
    await publish(settings, workload, count)
    raw_db = f"raw_{tag}"
    # The server slows as data accumulates: even rounds measure ONE Bus first, odd ones
    # the raw limits first (with the documents of an earlier round: the same workload
    # stores the same documents, whatever the order or the number of processes).
    if round_ % 2 == 1 and workload in documents_cache:
        nats_rate = await run_raw_nats(settings, processes, count, f"raw{round_}")
        store_rate = await run_raw_store(
            settings, documents_cache[workload], processes, count, raw_db
        )
        bus_rate, trips, commands, store_seconds = await run_bus(settings, processes, count)
    else:
        bus_rate, trips, commands, store_seconds = await run_bus(settings, processes, count)
        documents_cache[workload] = await stored_documents(settings)
        nats_rate = await run_raw_nats(settings, processes, count, f"raw{round_}")
        store_rate = await run_raw_store(
            settings, documents_cache[workload], processes, count, raw_db
        )
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(settings.mongodb_uri)
    await mongo.drop_database(raw_db)
    if not keep:
        await mongo.drop_database(settings.mongodb_db)
    await mongo.close()
    return IngestRound(
        workload,
        processes,
        round_,
        count,
        bus_rate,
        nats_rate,
        store_rate,
        trips,
        commands,
        store_seconds,
    )

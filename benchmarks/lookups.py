"""Lookup latency and throughput against a NATS round trip plus the plain PyMongo read.

Four queries over the mix workload's data, answered by a ONE Bus query process. For each:
one requester (requests interleaved with the two baselines, so drift hits all three) and
64 concurrent requesters (the three measured one after the other, in an order that
alternates between queries). Baselines: a plain NATS request to a trivial responder in
its own process (echo), and the read a PyMongo user would write for the same answer.
"""

import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from benchmarks.ingest import service_env
from benchmarks.processes import service_processes
from benchmarks.servers import Servers
from benchmarks.service_process import ECHO_SUBJECT
from contracts.subjects import query_subject
from services.settings import Settings

Document = dict[str, Any]
Call = Callable[[], Awaitable[object]]
TENANT = "bench"
LIMIT = 20
CONCURRENCY = 64


@dataclass(frozen=True, slots=True)
class Latency:
    samples_ms: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p99(self) -> float:
        return statistics.quantiles(self.samples_ms, n=100)[98]


@dataclass(frozen=True, slots=True)
class LookupResult:
    query: str
    bus: Latency
    nats: Latency
    read: Latency
    bus_concurrent: Latency
    nats_concurrent: Latency
    read_concurrent: Latency
    bus_concurrent_per_s: float
    read_concurrent_per_s: float

    @property
    def p50_ratio(self) -> float:
        """ONE Bus p50 ÷ (NATS round trip p50 + raw read p50)."""
        return self.bus.p50 / (self.nats.p50 + self.read.p50)

    @property
    def p99_ratio(self) -> float:
        return self.bus.p99 / (self.nats.p99 + self.read.p99)

    @property
    def concurrent_ratio(self) -> float:
        """ONE Bus throughput with 64 requesters ÷ 64 concurrent plain reads."""
        return self.bus_concurrent_per_s / self.read_concurrent_per_s


def _key(record_id: str) -> str:
    return f"{TENANT}:{record_id}"


def _bus_call(client: NatsClient, query: str, body: Document) -> Call:
    subject = query_subject(TENANT, query)
    data = json.dumps(body).encode()

    async def call() -> object:
        reply = await client.request(subject, data, timeout=10)
        if not reply.data.startswith(b'{"ok":true'):
            raise RuntimeError(f"{query}: {reply.data[:200]!r}")
        return reply

    return call


def _calls(
    client: NatsClient, database: AsyncDatabase[Document], entity: str, actor: str
) -> dict[str, tuple[Call, Call]]:
    """Per query: (the request to ONE Bus, the plain read giving the same answer)."""
    entities, events, connections = (
        database["entities"],
        database["events"],
        database["connections"],
    )

    async def get() -> object:
        # By `_id` alone, the live check left to the client: on SecantusDB a second
        # predicate beside `_id` doubles the time of a find_one (1.3 ms against 0.6 ms).
        document = await entities.find_one({"_id": _key(entity)})
        return document if document and document.get("deletedAt") is None else None

    # The list reads are aggregations, as ONE Bus sends them: on SecantusDB a `find` with
    # a sort is no faster, and for connections several times slower.
    async def list_entities() -> object:
        match = {"groupId": TENANT, "type": "creator", "deletedAt": None}
        order = {"createdAt": -1, "_id": -1}
        pipeline: list[Document] = [{"$match": match}, {"$sort": order}, {"$limit": LIMIT + 1}]
        return await (await entities.aggregate(pipeline)).to_list()

    async def list_events() -> object:
        match = {"groupId": TENANT, "actorId": actor}
        order = {"timestamp": -1, "_id": -1}
        pipeline: list[Document] = [{"$match": match}, {"$sort": order}, {"$limit": LIMIT + 1}]
        return await (await events.aggregate(pipeline)).to_list()

    async def walk() -> object:
        # Stages as ONE Bus sends them: with `deletedAt: null` in the first `$match`,
        # the read took 13-22 ms on SecantusDB against about 1 ms this way.
        live: Document = {"$match": {"deletedAt": None}}
        edges_from: Document = {"$match": {"groupId": TENANT, "fromEntityId": {"$in": [entity]}}}
        order: Document = {"$sort": {"createdAt": -1, "_id": -1}}
        pipeline = [edges_from, live, order, {"$limit": LIMIT + 1}]
        edges = await (await connections.aggregate(pipeline)).to_list()
        keys = [_key(entity)] + [_key(edge["toEntityId"]) for edge in edges]
        # `_id` alone first: the point lookup SecantusDB plans fastest.
        nodes: list[Document] = [{"$match": {"_id": {"$in": keys}}}, live]
        return await (await entities.aggregate(nodes)).to_list()

    traverse = {"startId": entity, "direction": "out", "depth": 1, "limit": LIMIT}
    return {
        "entities.get": (_bus_call(client, "entities.get", {"id": entity}), get),
        "entities.list": (
            _bus_call(client, "entities.list", {"type": "creator", "limit": LIMIT}),
            list_entities,
        ),
        "events.list": (
            _bus_call(client, "events.list", {"actorId": actor, "limit": LIMIT}),
            list_events,
        ),
        "graph.traverse": (_bus_call(client, "graph.traverse", traverse), walk),
    }


async def _timed(call: Call, samples: list[float]) -> None:
    started = time.perf_counter()
    await call()
    samples.append((time.perf_counter() - started) * 1000)


async def _concurrent(call: Call, requests: int) -> tuple[Latency, float]:
    """(latencies, requests per second) of `requests` calls from 64 requesters."""
    samples: list[float] = []

    async def requester(n: int) -> None:
        for _ in range(n):
            await _timed(call, samples)

    share = max(1, requests // CONCURRENCY)
    started = time.perf_counter()
    await asyncio.gather(*(requester(share) for _ in range(CONCURRENCY)))
    seconds = time.perf_counter() - started
    return Latency(samples), len(samples) / seconds


async def run(servers: Servers, database: str, requests: int) -> list[LookupResult]:
    """`database` holds the mix workload as ONE Bus stored it (tenant `bench`)."""
    settings = Settings(
        nats_url=servers.nats_url, mongodb_uri=servers.mongodb_uri, mongodb_db=database
    )
    mongo: AsyncMongoClient[Document] = AsyncMongoClient(servers.mongodb_uri)
    db = mongo[database]
    # The entity with the most outgoing connections, and the busiest actor: real answers.
    busiest = await db["connections"].aggregate(
        [{"$group": {"_id": "$fromEntityId", "n": {"$sum": 1}}}, {"$sort": {"n": -1}}]
    )
    candidates = [str(doc["_id"]) for doc in await busiest.to_list()]
    stored = {
        doc["id"]
        async for doc in db["entities"].find({"_id": {"$in": [_key(c) for c in candidates]}})
    }
    entity = next(c for c in candidates if c in stored)
    actors = await db["events"].aggregate(
        [
            {"$match": {"type": "payment_event"}},
            {"$group": {"_id": "$actorId", "n": {"$sum": 1}}},
            {"$sort": {"n": -1}},
        ]
    )
    actor = str((await actors.to_list())[0]["_id"])
    client = await nats.connect(servers.nats_url)
    results = []
    env = service_env(settings)
    async with (
        service_processes("query", 1, env),
        service_processes("echo", 1, env),
    ):

        async def echo() -> object:
            return await client.request(ECHO_SUBJECT, b'{"id":"x"}', timeout=10)

        calls = _calls(client, db, entity, actor)
        for position, (query, (bus_call, read_call)) in enumerate(calls.items()):
            for call in (bus_call, echo, read_call):  # warm up connections and caches
                for _ in range(20):
                    await call()
            bus: list[float] = []
            echoed: list[float] = []
            read: list[float] = []
            for _ in range(requests):
                await _timed(bus_call, bus)
                await _timed(echo, echoed)
                await _timed(read_call, read)
            concurrent: dict[str, tuple[Latency, float]] = {}
            order = [("bus", bus_call), ("nats", echo), ("read", read_call)]
            for name, call in order if position % 2 == 0 else order[::-1]:
                concurrent[name] = await _concurrent(call, requests * 2)
            results.append(
                LookupResult(
                    query,
                    Latency(bus),
                    Latency(echoed),
                    Latency(read),
                    concurrent["bus"][0],
                    concurrent["nats"][0],
                    concurrent["read"][0],
                    concurrent["bus"][1],
                    concurrent["read"][1],
                )
            )
    await client.close()
    await mongo.close()
    return results

"""`entities.get` over NATS request/reply against a direct PyMongo `find_one` (baseline).

The ratio is what the bus adds to a lookup: a NATS round trip, request validation,
tenant scoping and the JSON reply.
"""

import json
import statistics
import time
from dataclasses import dataclass

import nats
from pymongo import AsyncMongoClient

from services.runtime.service import OneBusService
from services.settings import Settings
from services.store.keys import record_key


@dataclass(frozen=True)
class Latencies:
    name: str
    samples_ms: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p99(self) -> float:
        return statistics.quantiles(self.samples_ms, n=100)[98]


async def run(
    nats_url: str, mongodb_uri: str, database: str, requests: int
) -> tuple[Latencies, Latencies]:
    """Assumes `database` holds the ingest benchmark's entities (tenant `bench`)."""
    settings = Settings(nats_url=nats_url, mongodb_uri=mongodb_uri, mongodb_db=database)
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongodb_uri)
    entities = mongo[database]["entities"]
    client = await nats.connect(nats_url)
    bus, direct = [], []
    ids = [
        str(doc["id"]) async for doc in entities.find({"groupId": "bench"}, {"id": 1}).limit(100)
    ]
    async with OneBusService(settings, ingest=False):
        for n in range(requests):
            entity_id = ids[n % len(ids)]
            started = time.perf_counter()
            reply = await client.request(
                "one.v1.bench.query.entities.get", json.dumps({"id": entity_id}).encode(), timeout=5
            )
            bus.append((time.perf_counter() - started) * 1000)
            assert json.loads(reply.data)["ok"], reply.data

            started = time.perf_counter()
            document = await entities.find_one(
                {"_id": record_key("bench", entity_id), "deletedAt": None}
            )
            direct.append((time.perf_counter() - started) * 1000)
            assert document is not None
    await client.close()
    await mongo.close()
    return Latencies("entities.get over NATS", bus), Latencies("find_one direct (baseline)", direct)

"""The MongoDB adapter passes the store port's suite, on the real server."""

import random
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.settings import Settings
from services.store.keys import to_record
from services.store.mongodb.indexes import ensure_indexes
from services.store.mongodb.store import MongoReads, MongoTenantRecords
from services.store.mongodb.writer import StoreWriter
from services.store.port import BatchOutcome
from services.store.write_request import WriteRequest
from services.watch.evaluator import Evaluator
from tests.services.store.memory_port import memory_port
from tests.services.store.port_suite import Port, StorePortSuite, T
from tests.services.store.workload import QUERIES, random_command, random_queries


@pytest.mark.integration
class TestMongoStore(StorePortSuite):
    @pytest.fixture
    async def port(self, database: AsyncDatabase[dict[str, Any]]) -> Port:
        await ensure_indexes(database)
        return Port(MongoReads(database), StoreWriter(database), MongoTenantRecords(database))


@pytest.mark.integration
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_mongodb_answers_every_query_as_the_in_memory_store_does(
    database: AsyncDatabase[dict[str, Any]], seed: int
) -> None:
    """The same random workload written to both stores: every query (its handler, over
    each store's reads) answers the same, so the specs' predicates and orders that the
    in-memory store and the watch matcher use agree with MongoDB's filters and indexes."""
    await ensure_indexes(database)
    mongo = Port(MongoReads(database), StoreWriter(database), MongoTenantRecords(database))
    memory = memory_port()
    rng = random.Random(seed)
    batches: list[list[WriteRequest]] = []
    for n in range(0, 150, 10):
        # Now and then a batch delivered again, as JetStream redelivers one not acked.
        if batches and rng.random() < 0.2:
            batch = rng.choice(batches)
        else:
            commands = [random_command(rng, n + k) for k in range(10)]
            batch = mongo.requests(*commands)
            batches.append(batch)
        stored = _outcome(await mongo.writes.write(batch))
        assert stored == _outcome(await memory.writes.write(batch))
    settings = Settings()
    on_mongo, in_memory = Evaluator(mongo.reads, settings), Evaluator(memory.reads, settings)
    for name, request in [*QUERIES, *random_queries(rng, 200)]:
        expected = (await in_memory.evaluate(T, name, request)).result
        assert (await on_mongo.evaluate(T, name, request)).result == expected, (name, request)


def _outcome(outcome: BatchOutcome) -> tuple[object, ...]:
    return (
        [(c.subject, c.msg_id, to_record(c.document)) for c in outcome.changes],
        outcome.failed,
        outcome.records,
    )

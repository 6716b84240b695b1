"""What the store charges for the writes ingest makes, measured with plain PyMongo.

`python -m benchmarks.store_costs [--documents N] [--rounds R]` against the servers the
other benchmarks use (`ONE_MONGODB_URI`, else an embedded SecantusDB in the durable
configuration). Entity documents as ONE Bus stores them, with its indexes and its write
concern; medians of R rounds:

- per document: a plain insert; a replacement guarded by `rev` in its filter; the
  compare-and-swap ONE Bus sends (an update on `_id` alone whose pipeline checks `rev`,
  services/store/entity_swap.py); a replacement by `_id` alone inside a transaction that
  read the `rev`s first (the guard a transaction would give instead, not adopted);
- an insert into `entities` and one into `events`, one after the other and at once: what
  writing a batch's collections side by side, or two ingest processes, cost the store.

These explain the ingest rows of `make bench` that stay below the raw limit, which
inserts each final document once, one collection after the other (docs/benchmarks.md).
"""

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pymongo import AsyncMongoClient, ReplaceOne, WriteConcern
from pymongo.asynchronous.database import AsyncDatabase
from rich.console import Console
from rich.table import Table

from benchmarks.servers import servers
from services.store.mongodb.entity_swap import compare_and_swap
from services.store.mongodb.indexes import ensure_indexes

Document = dict[str, Any]
console = Console()


def entity(key: str, rev: int) -> Document:
    return {
        "_id": f"bench:{key}", "id": key, "groupId": "bench", "type": "creator",
        "name": f"Creator {key} {rev}", "nameTerms": ["creator", key, str(rev)],
        "properties": {"bio": "x" * 200, "followers": rev}, "status": "active",
        "rev": rev, "createdAt": 1, "updatedAt": rev,
    }  # fmt: skip


def event(key: str) -> Document:
    return {
        "_id": f"bench:lc@updated@1@{key}", "id": f"lc@updated@1@{key}", "groupId": "bench",
        "type": "entity_created", "actorId": "bench", "targetId": key, "timestamp": 1,
        "metadata": {"entityType": "creator"},
    }  # fmt: skip


async def timed(write: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await write()
    return time.perf_counter() - started


async def one_round(
    client: AsyncMongoClient[Document], database: AsyncDatabase[Document], n: int, round_: int
) -> dict[str, float]:
    """Seconds per document (per pair of documents for the side-by-side rows)."""
    entities, events = database["entities"], database["events"]
    keys = [f"r{round_}k{i}" for i in range(n)]
    ids = [f"bench:{key}" for key in keys]
    concern = database.write_concern

    async def replace_in_transaction() -> None:
        async with (
            client.start_session() as session,
            await session.start_transaction(write_concern=concern),
        ):
            await entities.find({"_id": {"$in": ids}}, session=session).to_list()
            replacements = [ReplaceOne({"_id": f"bench:{k}"}, entity(k, 4)) for k in keys]
            await entities.bulk_write(replacements, ordered=False, session=session)

    costs = {
        "insert": await timed(lambda: entities.insert_many([entity(k, 1) for k in keys])),
        "replace guarded by rev": await timed(
            lambda: entities.bulk_write(
                [ReplaceOne({"_id": f"bench:{k}", "rev": 1}, entity(k, 2)) for k in keys],
                ordered=False,
            )
        ),
        "compare-and-swap on rev (ONE Bus)": await timed(
            lambda: entities.bulk_write(
                [compare_and_swap(f"bench:{k}", 2, entity(k, 3)) for k in keys], ordered=False
            )
        ),
        "replace by _id in a transaction": await timed(replace_in_transaction),
    }

    async def both(suffix: str) -> None:
        await entities.insert_many([entity(f"{k}{suffix}", 1) for k in keys])
        await events.insert_many([event(f"{k}{suffix}") for k in keys])

    async def side_by_side(suffix: str) -> None:
        await asyncio.gather(
            entities.insert_many([entity(f"{k}{suffix}", 1) for k in keys]),
            events.insert_many([event(f"{k}{suffix}") for k in keys]),
        )

    costs["entities then events"] = await timed(lambda: both("a"))
    costs["entities and events at once"] = await timed(lambda: side_by_side("b"))
    return {name: seconds / n for name, seconds in costs.items()}


async def main(documents: int, rounds: int) -> None:
    async with servers() as running:
        client: AsyncMongoClient[Document] = AsyncMongoClient(running.mongodb_uri)
        concern = WriteConcern(w="majority", j=True)
        database = client.get_database("bench_store_costs", write_concern=concern)
        await client.drop_database(database.name)
        await ensure_indexes(database)
        samples: dict[str, list[float]] = {}
        for round_ in range(rounds):
            for name, cost in (await one_round(client, database, documents, round_)).items():
                samples.setdefault(name, []).append(cost)
        await client.drop_database(database.name)
        await client.close()
    insert = statistics.median(samples["insert"])
    table = Table(title=f"Store costs ({running.kind}), {documents} documents, {rounds} rounds")
    table.add_column("write")
    table.add_column("µs per document", justify="right")
    table.add_column("÷ insert", justify="right")
    for name, values in samples.items():
        median = statistics.median(values)
        table.add_row(name, f"{median * 1e6:.0f}", f"{median / insert:.2f}")
    console.print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.documents, arguments.rounds))

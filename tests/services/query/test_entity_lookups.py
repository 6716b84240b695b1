"""Concurrent `entities.get` of single ids share reads, and each still gets its own answer."""

import asyncio
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.query.entity_lookups import EntityLookups
from services.store.mongodb import reads as store_reads
from services.store.mongodb.store import MongoReads
from tests.services.query.stored import entity, insert

pytestmark = pytest.mark.integration

Document = dict[str, Any]


async def test_concurrent_lookups_share_reads_and_each_gets_its_own_answer(
    query_db: AsyncDatabase[Document], tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await insert(query_db, "entities", *(entity(tenant, f"e{n}") for n in range(40)))
    await insert(query_db, "entities", entity(tenant, "gone", deleted=5))
    reads: list[int] = []
    real = store_reads.get_entities

    async def counted(*args: Any, **kwargs: Any) -> dict[str, Document]:
        reads.append(len(args[2]))
        found: dict[str, Document] = await real(*args, **kwargs)
        return found

    monkeypatch.setattr(store_reads, "get_entities", counted)
    lookups = EntityLookups(MongoReads(query_db), 5.0)
    ids = [f"e{n}" for n in range(40)] + ["missing", "gone"]
    found = await asyncio.gather(
        *(lookups.get(tenant, i, entity_type=None, include_deleted=False) for i in ids)
    )
    assert [f["id"] if f else None for f in found] == [*ids[:40], None, None]
    # Requests made in the same turn of the event loop share the read that starts after it.
    assert reads == [42]
    # A scope of its own: deleted entities asked for are found.
    gone = await lookups.get(tenant, "gone", entity_type=None, include_deleted=True)
    assert gone is not None
    assert gone["deletedAt"] == 5


async def test_a_requester_giving_up_does_not_fail_the_others(
    query_db: AsyncDatabase[Document], tenant: str
) -> None:
    await insert(query_db, "entities", entity(tenant, "a"), entity(tenant, "b"))
    lookups = EntityLookups(MongoReads(query_db), 5.0)
    impatient = asyncio.create_task(
        lookups.get(tenant, "a", entity_type=None, include_deleted=False)
    )
    patient = asyncio.create_task(lookups.get(tenant, "b", entity_type=None, include_deleted=False))
    await asyncio.sleep(0)
    impatient.cancel()
    found = await patient
    assert found is not None
    assert found["id"] == "b"

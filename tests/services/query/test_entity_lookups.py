"""Concurrent `entities.get` of single ids share reads, and each still gets its own answer."""

import asyncio
from collections.abc import Sequence
from typing import Any

from contracts.commands import EntityDelete
from services.query.entity_lookups import EntityLookups
from services.store.memory.reads import MemoryReads
from services.store.memory.tables import Tables
from services.store.port import Document
from tests.services.store.memory_port import memory_port
from tests.services.store.port_suite import T, upsert


class _CountedReads(MemoryReads):
    """The in-memory store, noting how many ids each read asks for."""

    def __init__(self, tables: Tables) -> None:
        super().__init__(tables)
        self.reads: list[int] = []

    async def get_entities(
        self, tenant: str, ids: Sequence[str], **options: Any
    ) -> dict[str, Document]:
        self.reads.append(len(ids))
        return await super().get_entities(tenant, ids, **options)


async def _stored(*entity_ids: str) -> _CountedReads:
    store = memory_port(_CountedReads)
    await store.write(
        *(upsert(entity_id, 1) for entity_id in entity_ids),
        EntityDelete(id="gone", updatedAt=5, actorId="a"),
    )
    assert isinstance(store.reads, _CountedReads)
    return store.reads


async def test_concurrent_lookups_share_reads_and_each_gets_its_own_answer() -> None:
    tenant = T
    store = await _stored(*(f"e{n}" for n in range(40)), "gone")
    lookups = EntityLookups(store, 5.0)
    ids = [f"e{n}" for n in range(40)] + ["missing", "gone"]
    found = await asyncio.gather(
        *(lookups.get(tenant, i, entity_type=None, include_deleted=False) for i in ids)
    )
    assert [f["id"] if f else None for f in found] == [*ids[:40], None, None]
    # Requests made in the same turn of the event loop share the read that starts after it.
    assert store.reads == [42]
    # A scope of its own: deleted entities asked for are found.
    gone = await lookups.get(tenant, "gone", entity_type=None, include_deleted=True)
    assert gone is not None
    assert gone["deletedAt"] == 5


async def test_a_requester_giving_up_does_not_fail_the_others() -> None:
    tenant = T
    lookups = EntityLookups(await _stored("a", "b"), 5.0)
    impatient = asyncio.create_task(
        lookups.get(tenant, "a", entity_type=None, include_deleted=False)
    )
    patient = asyncio.create_task(lookups.get(tenant, "b", entity_type=None, include_deleted=False))
    await asyncio.sleep(0)
    impatient.cancel()
    found = await patient
    assert found is not None
    assert found["id"] == "b"

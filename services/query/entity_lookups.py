"""`entities.get` of one id, coalesced: requests arriving while a read is in flight share
the next read.

Under load most of a lookup's cost is per store command, not per document: PyMongo's
command machinery in this process, and on SecantusDB the planning of each command (a
batch of 30 ids by `_id` costs the store little more than one). So the first lookup is
read at once (no added latency for a lone requester), and lookups that arrive while it
is in flight are read together as soon as it returns: one `$in` read per batch instead
of one read per request.

Each request keeps its own deadline: its wait is bounded by the dispatcher's timeout as
before (a request that gives up stops waiting; the shared read goes on for the others).
The shared read runs in a task of its own, under `query_timeout_s` (the longest any
request may have), so one request's cancellation never fails the others. Each read takes
one of the replica's store slots (given, in turn by tenant, like every query's), not one
per request: the lookups sharing a read share its slot.
"""

import asyncio
import contextlib
import contextvars
from dataclasses import dataclass, field

from services.query.admission import FairSlots
from services.query.deadline import deadline_in
from services.store.port import Document, StoreReads

# What a read is scoped by: tenant, type filter, include deleted.
_Scope = tuple[str, str | None, bool]


@dataclass(slots=True)
class _Batch:
    ids: set[str] = field(default_factory=set)
    found: asyncio.Future[dict[str, Document]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class EntityLookups:
    def __init__(self, store: StoreReads, timeout_s: float, slots: FairSlots | None = None) -> None:
        self._store = store
        self._timeout_s = timeout_s
        self._slots = slots
        # Per scope: the batch gathering ids for the next read, and whether a read runs.
        self._next: dict[_Scope, _Batch] = {}
        self._reading: set[_Scope] = set()
        # The reader tasks, held until done (the event loop keeps only weak references).
        self._readers: set[asyncio.Task[None]] = set()

    async def get(
        self, tenant: str, entity_id: str, *, entity_type: str | None, include_deleted: bool
    ) -> Document | None:
        scope = (tenant, entity_type, include_deleted)
        batch = self._next.get(scope)
        if batch is None:
            batch = self._next[scope] = _Batch()
        batch.ids.add(entity_id)
        if scope not in self._reading:
            self._reading.add(scope)
            # A fresh context: the reader must not inherit this request's deadline.
            reader = asyncio.create_task(self._read(scope), context=contextvars.Context())
            self._readers.add(reader)
            reader.add_done_callback(self._readers.discard)
        found = await asyncio.shield(batch.found)
        return found.get(entity_id)

    async def _read(self, scope: _Scope) -> None:
        tenant = scope[0]
        try:
            while scope in self._next:
                try:
                    await self._acquire(tenant)
                except TimeoutError as error:
                    _settle(self._next.pop(scope), error)
                    continue
                try:
                    # Popped once the slot is ours: lookups arriving while it was awaited
                    # are in this read too.
                    batch = self._next.pop(scope)
                    try:
                        found = await self._read_batch(scope, batch)
                    except Exception as error:
                        _settle(batch, error)
                    else:
                        batch.found.set_result(found)
                finally:
                    if self._slots is not None:
                        self._slots.release(tenant)
        finally:
            self._reading.discard(scope)

    async def _acquire(self, tenant: str) -> None:
        if self._slots is not None:
            async with asyncio.timeout(self._timeout_s):
                await self._slots.acquire(tenant)

    async def _read_batch(self, scope: _Scope, batch: _Batch) -> dict[str, Document]:
        tenant, entity_type, include_deleted = scope
        return await self._store.get_entities(
            tenant,
            sorted(batch.ids),
            entity_type=entity_type,
            include_deleted=include_deleted,
            deadline=deadline_in(self._timeout_s),
        )


def _settle(batch: _Batch, error: Exception) -> None:
    batch.found.set_exception(error)
    # Retrieved here too, in case every requester has given up.
    with contextlib.suppress(Exception):
        batch.found.exception()

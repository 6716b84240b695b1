"""Running a watched query: the very route and handler the plain query uses.

So a watch's `result` is byte for byte what `one.v1.<tenant>.query.<name>` answers (its
first page). `not_found` (`entities.get` of an id with no live entity) is the result
`null`: a watch waits for the entity to appear. Reads are bounded like queries' (a store
slot, `query_timeout_s` as the read's deadline); `reads` counts them, so tests and
benchmarks can check that an unrelated change cost none. The `watch_max_concurrency` slots
are granted to waiting tenants in turn (services/query/admission.py), so one tenant's thousand
re-evaluations cannot keep another tenant's waiting behind them all; a read keeps its
slot until the store answers (maxTimeMS ends it), never cut off mid-command.
"""

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from contracts.queries import Query
from services.query.admission import FairSlots
from services.query.context import QueryContext
from services.query.deadline import deadline_in
from services.query.errors import NotFoundError
from services.query.replies import encode_json
from services.query.routes import ROUTES
from services.settings import Settings
from services.store.port import StoreReads


@dataclass(frozen=True, slots=True)
class Evaluation:
    result: Any
    # The result as the JSON every message carries, and its digest.
    encoded: bytes
    digest: str


def query_key(tenant: str, name: str, request: Query) -> str:
    """Equal for watches whose results are equal: one read serves them all."""
    material = [tenant, name, request.model_dump(mode="json")]
    return json.dumps(material, sort_keys=True, separators=(",", ":"))


class Evaluator:
    def __init__(
        self,
        store: StoreReads,
        settings: Settings,
        on_read: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._on_read = on_read
        self.slots = FairSlots(
            settings.watch_max_concurrency, settings.watch_max_concurrency_per_tenant
        )
        self.reads = 0

    async def evaluate(
        self, tenant: str, name: str, request: Query, *, in_turn: bool = False
    ) -> Evaluation:
        """The query's current result, read in a slot; raises what the store raises (the
        caller retries)."""
        async with self.slot(tenant, in_turn=in_turn):
            return await self.read(tenant, name, request)

    @contextlib.asynccontextmanager
    async def slot(self, tenant: str, *, in_turn: bool = False) -> AsyncIterator[None]:
        """A store slot of `tenant`'s, granted in turn. A requester waits for it within
        `query_timeout_s`; a re-evaluation (`in_turn`) waits however long the line:
        giving up would only put it back at the end of the same line."""
        async with asyncio.timeout(None if in_turn else self._settings.query_timeout_s):
            await self.slots.acquire(tenant)
        try:
            yield
        finally:
            self.slots.release(tenant)

    async def read(self, tenant: str, name: str, request: Query) -> Evaluation:
        """The query's current result (the caller holds a slot)."""
        route = ROUTES[name]
        deadline = deadline_in(self._settings.query_timeout_s)
        context = QueryContext(self._store, tenant, name, self._settings, deadline)
        self.reads += 1
        self._on_read()
        try:
            result = await route.handle(context, request)
        except NotFoundError:
            result = None
        # As query replies encode it: strict JSON, non-finite numbers as null.
        encoded = encode_json(result)
        return Evaluation(result, encoded, hashlib.sha256(encoded).hexdigest()[:32])

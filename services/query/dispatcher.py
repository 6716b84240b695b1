"""Subject + bytes in, reply out: every outcome, including every failure, is a typed reply.

Nothing a caller sends can make the responder raise or go silent: bad bytes, bad JSON, an
unknown query, a forged cursor are `invalid_request`; a slow store is `timeout`; anything
unexpected is logged and answered `internal`.

A request is validated completely (subject, size, JSON, model) before anything is read, and
only a valid one takes one of the replica's `query_max_concurrency` store slots: hostile
input is answered at once and never queues ahead of good queries. Slots are granted to
waiting tenants in turn (admission.py's `FairSlots`): one tenant's queue of expensive
queries cannot hold them all while another tenant waits.

The deadline (set by the responder from the request's arrival) covers the wait for a slot
and the reads, and every store command carries what is left of it as `maxTimeMS`, so the
server stops working on an abandoned query too. The read keeps its slot until the store
has answered (at the latest when `maxTimeMS` ends it), even once its requester has been
answered `timeout`: the slots then bound what the store is working on for this replica,
abandoned work included. A command cut off mid-flight closes its connection while the
store goes on working for it, and the next read opens another; with every slot's reads
overrunning their deadlines together, that once held the store at its connection cap and
busy for minutes after the requesters had gone (docs/tenancy.md).
"""

import asyncio
from typing import Any, Final

from contracts.errors import problem
from contracts.subjects import SubjectError, parse_request_subject
from services.query.admission import FairSlots
from services.query.context import QueryContext
from services.query.deadline import SLACK_S, deadline_in, left_s
from services.query.entity_lookups import EntityLookups
from services.query.errors import InvalidRequestError, NotYetError, failure_reply
from services.query.progress import IngestProgress
from services.query.replies import Reply, ok_reply
from services.query.route import Route
from services.query.routes import ROUTES
from services.settings import Settings
from services.store.port import StoreReads

MAX_REQUEST_BYTES: Final = 64 * 1024


def parse_query_subject(subject: str) -> tuple[str, str]:
    """`one.v1.<tenant>.query.<name>` → (tenant, name)."""
    try:
        return parse_request_subject(subject, "query")
    except SubjectError as error:
        raise InvalidRequestError(str(error)) from error


class QueryDispatcher:
    def __init__(
        self,
        store: StoreReads,
        settings: Settings,
        progress: IngestProgress | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        # Where `after` waits (progress.py); None: requests with `after` are refused.
        self._progress = progress
        self.store_slots = FairSlots(
            settings.query_max_concurrency, settings.query_max_concurrency_per_tenant
        )
        self._entity_lookups = EntityLookups(store, settings.query_timeout_s, self.store_slots)
        # Reads whose requester was answered `timeout` before the store answered: held
        # until done (the event loop keeps only weak references to tasks).
        self._reads: set[asyncio.Task[Any]] = set()

    async def drain(self, timeout_s: float) -> None:
        """Wait (up to `timeout_s`) for reads still running for requesters answered
        `timeout` already: their commands end at their maxTimeMS."""
        if self._reads:
            await asyncio.wait(self._reads, timeout=timeout_s)

    async def dispatch(self, subject: str, body: bytes, deadline: float | None = None) -> Reply:
        """The reply to a request; `deadline` is on the event loop's clock (by default,
        `query_timeout_s` from now)."""
        try:
            return ok_reply(await self._answer(subject, body, deadline))
        except Exception as error:
            return failure_reply(error, what="query", subject=subject)

    async def _answer(self, subject: str, body: bytes, deadline: float | None) -> Any:
        tenant, name = parse_query_subject(subject)
        route = ROUTES.get(name)
        if route is None:
            raise InvalidRequestError(f"unknown query {name!r}", {"known": sorted(ROUTES)})
        if len(body) > MAX_REQUEST_BYTES:
            raise InvalidRequestError(f"request larger than {MAX_REQUEST_BYTES} bytes")
        # An empty request means "no parameters", like `{}`.
        request = route.model.model_validate_json(body or b"{}")
        if deadline is None:
            deadline = deadline_in(self._settings.query_timeout_s)
        left_s(deadline)  # the requester has given up: no slot, no read
        context = QueryContext(
            self._store, tenant, name, self._settings, deadline, self._entity_lookups
        )
        await wait_after(self._progress, tenant, request.after, deadline)
        if route.shared_read is not None and route.shared_read(request):
            # The shared read takes its slot itself; this request only waits for it.
            async with asyncio.timeout_at(deadline + SLACK_S):
                return await route.handle(context, request)
        async with asyncio.timeout_at(deadline):
            await self.store_slots.acquire(tenant)
        read = asyncio.create_task(self._read(route, context, request, deadline))
        self._reads.add(read)
        read.add_done_callback(self._retrieved)
        # The requester waits until its deadline (and a little slack, so that a store
        # timeout is reported as such); the read goes on in its slot until the store
        # answers, which maxTimeMS makes soon.
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(
            asyncio.shield(read), max(0.0, deadline + SLACK_S - loop.time())
        )

    async def _read(
        self, route: Route[Any], context: QueryContext, request: Any, deadline: float
    ) -> Any:
        try:
            # The store applies what is left of the deadline to every command it sends.
            left_s(deadline)
            return await route.handle(context, request)
        finally:
            self.store_slots.release(context.tenant)

    def _retrieved(self, read: "asyncio.Task[Any]") -> None:
        self._reads.discard(read)
        if not read.cancelled():
            read.exception()  # seen here too, when its requester was answered already


async def wait_after(
    progress: IngestProgress | None, tenant: str, after: int | None, deadline: float
) -> None:
    """Read-your-writes for every query and watch: wait (holding no store slot) until
    ingest is done with `tenant`'s writes up to `after`; TimeoutError past `deadline`."""
    if after is None:
        return
    if progress is None:
        invalid = problem(
            ["after"], "this responder does not follow ingest progress", "no_progress"
        )
        raise InvalidRequestError("`after` is not available here", [invalid])
    try:
        await progress.wait_for(tenant, after, deadline)
    except TimeoutError:
        reached = progress.floor(tenant)
        raise NotYetError(
            f"ingest has not finished the writes up to sequence {after} in time "
            f"(done up to {reached})",
            {"after": after, "reached": reached},
        ) from None

"""Event reads: keyset pages for `events.list`, newest first."""

from typing import Any, Final

from pymongo.asynchronous.database import AsyncDatabase

from contracts.correlation import correlation_refs
from contracts.queries import EVENTS_LIST, EventsList
from services.store.mongodb.indexes import EVENT_INDEXES
from services.store.mongodb.reads.keyset import Bound, KeysetQuery, PageRead, Span, read_page
from services.store.port import Keyset, Page

Document = dict[str, Any]


async def list_events(
    database: AsyncDatabase[Document],
    tenant: str,
    request: EventsList,
    *,
    after: Keyset | None,
    limit: int,
) -> Page:
    equalities: Document = {}
    if request.actorId is not None:
        equalities["actorId"] = request.actorId
    if request.targetId is not None:
        equalities["targetId"] = request.targetId
    if request.type is not None:
        equalities["type"] = request.type
    # Metadata keys are `[A-Za-z0-9_-]` (no `.` or `$`) and values scalars: each entry is a
    # plain equality on one metadata field.
    metadata = request.metadata or {}
    residual: Document = {f"metadata.{key}": value for key, value in metadata.items()}
    # A correlation key (taskId, transactionId, ...) is also indexed through `refs`.
    refs = correlation_refs(metadata)
    if refs:
        equalities["refs"] = refs[0]
    span = Span(
        Bound(request.since, True) if request.since is not None else None,
        Bound(request.until, False) if request.until is not None else None,
    )
    return await read_page(
        database["events"],
        EVENT_INDEXES,
        KeysetQuery(
            tenant=tenant,
            sort="timestamp",
            sort_type=int,
            equalities=equalities,
            residual=residual,
            span=span,
            after=after,
            limit=limit,
        ),
    )


PAGE_READS: Final[dict[str, PageRead[Any]]] = {EVENTS_LIST.name: list_events}

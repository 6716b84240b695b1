"""Tag reads: an entity's tags (by key), or a key's tags (by entity id)."""

from typing import Any, Final

from pymongo.asynchronous.database import AsyncDatabase

from contracts.queries import TAGS_LIST, TagsList
from services.store.mongodb.indexes import TAG_INDEXES
from services.store.mongodb.reads.entities import LIVE
from services.store.mongodb.reads.keyset import KeysetQuery, PageRead, Span, read_page
from services.store.port import Keyset, Page

Document = dict[str, Any]


def _sort(request: TagsList) -> str:
    """The field a tags page is ordered by: `key` for one entity, else `entityId`."""
    return "key" if request.entityId is not None else "entityId"


async def list_tags(
    database: AsyncDatabase[Document],
    tenant: str,
    request: TagsList,
    *,
    after: Keyset | None,
    limit: int,
) -> Page:
    equalities: Document = {}
    if request.entityId is not None:
        equalities["entityId"] = request.entityId
    if request.key is not None:
        equalities["key"] = request.key
    if request.value is not None:
        equalities["value"] = request.value
    return await read_page(
        database["tags"],
        TAG_INDEXES,
        KeysetQuery(
            tenant=tenant,
            sort=_sort(request),
            sort_type=str,
            equalities=equalities,
            residual=dict(LIVE),
            span=Span(),
            after=after,
            limit=limit,
        ),
    )


PAGE_READS: Final[dict[str, PageRead[Any]]] = {TAGS_LIST.name: list_tags}

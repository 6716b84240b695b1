"""Connection reads: keyset pages for `connections.list`, optionally joined to entities."""

from typing import Any, Final

from pymongo.asynchronous.database import AsyncDatabase

from contracts.queries import CONNECTIONS_LIST, ConnectionsList
from services.store.mongodb.indexes import CONNECTION_INDEXES
from services.store.mongodb.reads.entities import LIVE, get_entities
from services.store.mongodb.reads.keyset import KeysetQuery, PageRead, Span, read_page
from services.store.port import Keyset, Page

Document = dict[str, Any]


async def list_connections(
    database: AsyncDatabase[Document],
    tenant: str,
    request: ConnectionsList,
    *,
    after: Keyset | None,
    limit: int,
) -> Page:
    equalities: Document = {}
    if request.fromEntityId is not None:
        equalities["fromEntityId"] = request.fromEntityId
    if request.toEntityId is not None:
        equalities["toEntityId"] = request.toEntityId
    if request.relationshipType is not None:
        equalities["relationshipType"] = request.relationshipType
    residual: Document = {} if request.includeDeleted else dict(LIVE)
    if request.protocol is not None:
        residual["metadata.protocol"] = request.protocol
    if request.messageType is not None:
        residual["metadata.messageType"] = request.messageType
    page = await read_page(
        database["connections"],
        CONNECTION_INDEXES,
        KeysetQuery(
            tenant=tenant,
            sort="createdAt",
            sort_type=int,
            equalities=equalities,
            residual=residual,
            span=Span(),
            after=after,
            limit=limit,
        ),
    )
    if request.withEntities:
        page = Page(
            await join_entities(database, tenant, page.items, request.includeDeleted), page.next
        )
    return page


async def join_entities(
    database: AsyncDatabase[Document],
    tenant: str,
    connections: list[Document],
    include_deleted: bool,
) -> list[Document]:
    """Each connection with `fromEntity`/`toEntity`: null where the entity is not (yet) there.

    One lookup for the whole page; the bus is eventually consistent, so a connection may
    name an entity that has not arrived.
    """
    ids = [c[side] for c in connections for side in ("fromEntityId", "toEntityId")]
    entities = await get_entities(database, tenant, ids, include_deleted=include_deleted)
    return [
        {
            **connection,
            "fromEntity": entities.get(connection["fromEntityId"]),
            "toEntity": entities.get(connection["toEntityId"]),
        }
        for connection in connections
    ]


PAGE_READS: Final[dict[str, PageRead[Any]]] = {CONNECTIONS_LIST.name: list_connections}

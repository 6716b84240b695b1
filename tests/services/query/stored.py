"""Documents exactly as docs/storage.md lays them out, for tests to insert directly."""

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from contracts.search_terms import search_terms
from services.store.keys import NAME_TERMS, document_id, tag_key

Document = dict[str, Any]


def entity(
    tenant: str,
    entity_id: str,
    *,
    type: str = "creator",
    name: str | None = None,
    created: int = 1_000,
    updated: int | None = None,
    status: str | None = None,
    deleted: int | None = None,
    properties: Document | None = None,
) -> Document:
    name = name if name is not None else f"name of {entity_id}"
    document: Document = {
        "_id": document_id(tenant, entity_id),
        "id": entity_id,
        "groupId": tenant,
        "type": type,
        "name": name,
        "properties": properties or {},
        "createdAt": created,
        "updatedAt": updated if updated is not None else created,
        "seq": 1,
        NAME_TERMS: search_terms(name),
    }
    if status is not None:
        document["status"] = status
    if deleted is not None:
        document["deletedAt"] = deleted
    return document


def connection(
    tenant: str,
    connection_id: str,
    from_id: str,
    to_id: str,
    *,
    relationship: str = "owns",
    created: int = 1_000,
    metadata: Document | None = None,
    deleted: int | None = None,
) -> Document:
    document: Document = {
        "_id": document_id(tenant, connection_id),
        "id": connection_id,
        "groupId": tenant,
        "fromEntityId": from_id,
        "toEntityId": to_id,
        "relationshipType": relationship,
        "createdAt": created,
    }
    if metadata is not None:
        document["metadata"] = metadata
    if deleted is not None:
        document["deletedAt"] = deleted
        document["updatedAt"] = deleted
    return document


def event(
    tenant: str,
    event_id: str,
    *,
    type: str,
    actor: str,
    timestamp: int,
    metadata: Document | None = None,
    target: str | None = None,
) -> Document:
    document: Document = {
        "_id": document_id(tenant, event_id),
        "id": event_id,
        "groupId": tenant,
        "type": type,
        "actorId": actor,
        "timestamp": timestamp,
        "metadata": metadata or {},
    }
    if target is not None:
        document["targetId"] = target
    return document


def tag(
    tenant: str, entity_id: str, key: str, value: str, *, deleted: int | None = None
) -> Document:
    document: Document = {
        "_id": tag_key(tenant, entity_id, key, value),
        "groupId": tenant,
        "entityId": entity_id,
        "key": key,
        "value": value,
        "seq": 1,
    }
    if deleted is not None:
        document["deletedAt"] = deleted
    return document


async def insert(database: AsyncDatabase[Document], collection: str, *documents: Document) -> None:
    await database[collection].insert_many(list(documents))


def record(document: Document) -> Document:
    """What a reply shows of a stored document: no `_id`, no internal `seq` or `nameTerms`."""
    return {k: v for k, v in document.items() if k not in ("_id", "seq", NAME_TERMS)}

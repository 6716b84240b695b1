"""`entities.get`, `entities.list` and `entities.search`."""

from typing import Any, Final

from contracts.queries import (
    ENTITIES_GET,
    ENTITIES_LIST,
    ENTITIES_SEARCH,
    MAX_SEARCH_LIMIT,
    EntitiesGet,
    EntitiesList,
    EntitiesSearch,
)
from services.query.context import QueryContext
from services.query.errors import NotFoundError
from services.query.route import Route


async def get(context: QueryContext, request: EntitiesGet) -> dict[str, Any]:
    if request.ids is not None:
        found = await context.store.get_entities(
            context.tenant,
            request.ids,
            entity_type=request.type,
            include_deleted=request.includeDeleted,
            deadline=context.deadline,
        )
        # In the order asked for, once each; ids that do not exist are left out.
        return {"items": [found[i] for i in dict.fromkeys(request.ids) if i in found]}
    assert request.id is not None  # the model requires exactly one of id / ids
    if context.entity_lookups is not None:
        entity = await context.entity_lookups.get(
            context.tenant,
            request.id,
            entity_type=request.type,
            include_deleted=request.includeDeleted,
        )
    else:
        found = await context.store.get_entities(
            context.tenant,
            [request.id],
            entity_type=request.type,
            include_deleted=request.includeDeleted,
            deadline=context.deadline,
        )
        entity = found.get(request.id)
    if entity is None:
        kind = f"{request.type} " if request.type else ""
        raise NotFoundError(f"no {kind}entity {request.id!r}", {"id": request.id})
    return entity


async def list_(context: QueryContext, request: EntitiesList) -> dict[str, Any]:
    return await context.page(ENTITIES_LIST, request)


async def search(context: QueryContext, request: EntitiesSearch) -> dict[str, Any]:
    limit = min(context.limit(request.limit), MAX_SEARCH_LIMIT)
    found = await context.store.search_entities(
        context.tenant, request, limit=limit, deadline=context.deadline
    )
    return {"items": found}


def _by_one_id(request: EntitiesGet) -> bool:
    return request.id is not None


ROUTES: Final[list[Route[Any]]] = [
    Route(ENTITIES_GET, get, shared_read=_by_one_id),
    Route(ENTITIES_LIST, list_),
    Route(ENTITIES_SEARCH, search),
]

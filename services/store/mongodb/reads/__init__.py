"""Tenant-scoped reads for the query side: the only code that builds MongoDB filters from
caller input. Every function takes the tenant and matches `groupId` (or a tenant-qualified
`_id`); soft-deleted records are hidden unless asked for.
"""

from typing import Any, Final

from services.store.mongodb.reads import connections, entities, events, tags
from services.store.mongodb.reads.connections import list_connections
from services.store.mongodb.reads.entities import get_entities, get_entity, list_entities
from services.store.mongodb.reads.events import list_events
from services.store.mongodb.reads.graph import traverse
from services.store.mongodb.reads.keyset import PageRead
from services.store.mongodb.reads.search import search_entities
from services.store.mongodb.reads.stats import count_by
from services.store.mongodb.reads.tags import list_tags

PAGE_READS: Final[dict[str, PageRead[Any]]] = {
    name: read
    for module in (entities, connections, events, tags)
    for name, read in module.PAGE_READS.items()
}
"""The read of each keyset list query, by name: each module's `PAGE_READS`."""

__all__ = [
    "PAGE_READS",
    "count_by",
    "get_entities",
    "get_entity",
    "list_connections",
    "list_entities",
    "list_events",
    "list_tags",
    "search_entities",
    "traverse",
]

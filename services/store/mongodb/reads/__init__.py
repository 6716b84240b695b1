"""Tenant-scoped reads for the query side: the only code that builds MongoDB filters from
caller input. Every function takes the tenant and matches `groupId` (or a tenant-qualified
`_id`); soft-deleted records are hidden unless asked for.
"""

from services.store.mongodb.reads.connections import list_connections
from services.store.mongodb.reads.entities import get_entities, get_entity, list_entities
from services.store.mongodb.reads.events import list_events
from services.store.mongodb.reads.graph import traverse
from services.store.mongodb.reads.search import search_entities
from services.store.mongodb.reads.stats import count_by
from services.store.mongodb.reads.tags import list_tags

__all__ = [
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

"""Tenant-scoped reads for the query side: the only code that builds MongoDB filters from
caller input. Every function takes the tenant and matches `groupId` (or a tenant-qualified
`_id`); soft-deleted records are hidden unless asked for.
"""

from services.store.reads.connections import list_connections
from services.store.reads.entities import get_entities, get_entity, list_entities
from services.store.reads.events import list_events
from services.store.reads.graph import Walk, traverse
from services.store.reads.keyset import Keyset, Page
from services.store.reads.search import Search, search_entities
from services.store.reads.stats import count_by
from services.store.reads.tags import list_tags

__all__ = [
    "Keyset",
    "Page",
    "Search",
    "Walk",
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

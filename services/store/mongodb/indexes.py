"""Every index of the four collections, and `ensure_indexes` that creates them at start.

These are the seed's indexes (`convex/schema.ts`) with two changes:

- each leads with `groupId`, so every read is scoped to one tenant through the index and a
  sharded cluster can shard on it;
- each list index ends with the list's sort key and `_id`, in the sort's direction, so a
  page is a walk of one index range: keyset pagination on (sort key, `_id`) never sorts.

Every index here has the shape `groupId, <equalities...>, <sort key>, _id`; `reads` picks
the one whose equalities a request pins (`KeysetIndex`), so the declarations below are
also the query planner's menu. The shape is also what SecantusDB's planner can use (it
serves only "equalities on an index prefix, then one range on the next key"), so the same
requests are index-backed on mongod and on SecantusDB.

Entities also have two search indexes (`SEARCH_INDEXES`) on the words of their names, for
`entities.search`: the same shape with a range on the words where lists have their sort.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from services.store.keys import NAME_TERMS

Direction = Literal[1, -1]


@dataclass(frozen=True, slots=True)
class KeysetIndex:
    """`groupId`, then equality fields, then the sort key and `_id` in one direction."""

    name: str
    equalities: tuple[str, ...]
    sort: str
    direction: Direction

    @property
    def keys(self) -> list[tuple[str, int]]:
        return [
            ("groupId", 1),
            *((field, 1) for field in self.equalities),
            (self.sort, self.direction),
            ("_id", self.direction),
        ]


NEWEST_FIRST: Final = -1

ENTITY_INDEXES: Final = (
    KeysetIndex("by_type", ("type",), "createdAt", NEWEST_FIRST),
    KeysetIndex("by_status", ("status",), "createdAt", NEWEST_FIRST),
    KeysetIndex("by_type_status", ("type", "status"), "createdAt", NEWEST_FIRST),
    KeysetIndex("by_created", (), "createdAt", NEWEST_FIRST),
    KeysetIndex("by_updated", (), "updatedAt", NEWEST_FIRST),
    # Not in the seed: `entities.list` ordered by `updatedAt` (incremental sync) per type.
    KeysetIndex("by_type_updated", ("type",), "updatedAt", NEWEST_FIRST),
)

CONNECTION_INDEXES: Final = (
    KeysetIndex("from_entity", ("fromEntityId",), "createdAt", NEWEST_FIRST),
    KeysetIndex("to_entity", ("toEntityId",), "createdAt", NEWEST_FIRST),
    KeysetIndex("from_type", ("fromEntityId", "relationshipType"), "createdAt", NEWEST_FIRST),
    KeysetIndex("to_type", ("toEntityId", "relationshipType"), "createdAt", NEWEST_FIRST),
    KeysetIndex(
        "bidirectional",
        ("fromEntityId", "toEntityId", "relationshipType"),
        "createdAt",
        NEWEST_FIRST,
    ),
    KeysetIndex("by_created", (), "createdAt", NEWEST_FIRST),
)

EVENT_INDEXES: Final = (
    KeysetIndex("by_type", ("type",), "timestamp", NEWEST_FIRST),
    KeysetIndex("by_actor", ("actorId",), "timestamp", NEWEST_FIRST),
    KeysetIndex("by_target", ("targetId",), "timestamp", NEWEST_FIRST),
    KeysetIndex("by_timestamp", (), "timestamp", NEWEST_FIRST),
    KeysetIndex("by_actor_type", ("actorId", "type"), "timestamp", NEWEST_FIRST),
    KeysetIndex("by_target_type", ("targetId", "type"), "timestamp", NEWEST_FIRST),
    # Not in the seed: correlation lookups (one A2A task, one checkout, one purchase).
    # `refs` is multikey: ["taskId=…", "contextId=…"] (contracts/correlation.py).
    KeysetIndex("by_ref", ("refs",), "timestamp", NEWEST_FIRST),
)

# Tags have no time of their own: an entity's tags are listed by key, a key's tags by entity.
TAG_INDEXES: Final = (
    KeysetIndex("by_entity", ("entityId",), "key", 1),
    KeysetIndex("by_key", ("key",), "entityId", 1),
    KeysetIndex("by_key_value", ("key", "value"), "entityId", 1),
)


@dataclass(frozen=True, slots=True)
class SearchIndex:
    """`groupId`, then equality fields, then the name's words, newest first within a word.

    A search walks one range of words (every word starting with the search's longest
    term); within one word the entities come newest first.
    """

    name: str
    equalities: tuple[str, ...]

    @property
    def keys(self) -> list[tuple[str, int]]:
        return [
            ("groupId", 1),
            *((field, 1) for field in self.equalities),
            (NAME_TERMS, 1),
            ("createdAt", NEWEST_FIRST),
            ("_id", NEWEST_FIRST),
        ]


SEARCH_INDEXES: Final = (
    SearchIndex("search_name", ()),
    # Most searches name a type ("find the creator called ..."): without this, a search of a
    # rare type would walk every entity whose name matches and drop the other types.
    SearchIndex("search_type_name", ("type",)),
)

INDEXES: Final[Mapping[str, tuple[KeysetIndex, ...]]] = {
    "entities": ENTITY_INDEXES,
    "connections": CONNECTION_INDEXES,
    "events": EVENT_INDEXES,
    "tags": TAG_INDEXES,
}


async def ensure_indexes(database: AsyncDatabase[dict[str, Any]]) -> None:
    """Create every declared index; a no-op for those that already exist as declared.

    `createIndexes` with an identical name and key pattern succeeds without rebuilding,
    so this runs at every start (and from every replica at once) safely.
    """
    for collection, indexes in INDEXES.items():
        models = [IndexModel(index.keys, name=index.name) for index in indexes]
        if collection == "entities":
            models += [IndexModel(index.keys, name=index.name) for index in SEARCH_INDEXES]
        await database[collection].create_indexes(models)

"""Index declarations: the seed's indexes, tenant-first, ending in each list's sort order."""

from typing import Any

import pytest

from services.store.keys import NAME_TERMS
from services.store.mongodb.indexes import (
    INDEXES,
    SEARCH_INDEXES,
    KeysetIndex,
    ensure_indexes,
)

SEED_INDEXES = {
    "entities": {"by_type", "by_status", "by_type_status", "by_created", "by_updated"},
    "connections": {
        "from_entity",
        "to_entity",
        "from_type",
        "to_type",
        "bidirectional",
        "by_created",
    },
    "events": {
        "by_type",
        "by_actor",
        "by_target",
        "by_timestamp",
        "by_actor_type",
        "by_target_type",
    },
    "tags": {"by_entity", "by_key", "by_key_value"},
}


@pytest.mark.parametrize("collection", sorted(SEED_INDEXES))
def test_every_seed_index_is_declared(collection: str) -> None:
    names = [index.name for index in INDEXES[collection]]
    assert SEED_INDEXES[collection] <= set(names)
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    "index", [i for indexes in INDEXES.values() for i in indexes], ids=lambda i: i.name
)
def test_every_index_leads_with_the_tenant_and_ends_in_sort_order(index: KeysetIndex) -> None:
    keys = index.keys
    assert keys[0] == ("groupId", 1)
    assert keys[-2:] == [(index.sort, index.direction), ("_id", index.direction)]


def test_the_seed_key_fields_follow_the_tenant() -> None:
    # e.g. by_actor_type is [actorId, type] in the seed: the same fields, in the same order.
    by_name = {index.name: index for index in INDEXES["events"]}
    assert by_name["by_actor_type"].equalities == ("actorId", "type")
    assert by_name["by_target_type"].equalities == ("targetId", "type")
    assert {i.name: i.equalities for i in INDEXES["connections"]}["bidirectional"] == (
        "fromEntityId",
        "toEntityId",
        "relationshipType",
    )


@pytest.mark.integration
async def test_ensure_indexes_creates_them_all_and_is_idempotent(database: Any) -> None:
    await ensure_indexes(database)
    await ensure_indexes(database)
    for collection, indexes in INDEXES.items():
        info = await database[collection].index_information()
        declared = [*indexes, *(SEARCH_INDEXES if collection == "entities" else ())]
        for index in declared:
            assert [tuple(key) for key in info[index.name]["key"]] == index.keys
        assert set(info) == {"_id_"} | {index.name for index in declared}


def test_search_indexes_lead_with_the_tenant_then_the_words_newest_first() -> None:
    assert [index.keys for index in SEARCH_INDEXES] == [
        [("groupId", 1), (NAME_TERMS, 1), ("createdAt", -1), ("_id", -1)],
        [("groupId", 1), ("type", 1), (NAME_TERMS, 1), ("createdAt", -1), ("_id", -1)],
    ]

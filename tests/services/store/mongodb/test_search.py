"""Name search: stored words, an index range per search, ranking, and the plan it gets.

The first half is pure (prefix bounds, pipelines, ranking, what an entity write stores);
the second runs searches and `explain` on the session's real MongoDB wire-protocol server.
"""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.commands import EntityDelete, EntityUpsert
from services.store.entity_fold import fold_entities
from services.store.keys import NAME_TERMS, to_record
from services.store.mongodb.indexes import ensure_indexes
from services.store.mongodb.reads.search import (
    MAX_CANDIDATES,
    Search,
    candidates_pipeline,
    search_entities,
    successor,
)
from services.store.search_rank import rank
from services.store.write_request import WriteRequest
from tests.fixtures.explain import indexes_scanned
from tests.services.query.stored import entity, insert

Document = dict[str, Any]

# Prefix bounds.

# Strings MongoDB can store: no lone surrogates.
characters = st.characters(exclude_categories=["Cs"])
words = st.text(characters, min_size=1, max_size=6)


@given(prefix=words, other=st.text(characters, max_size=8))
def test_a_prefix_range_holds_exactly_the_strings_with_that_prefix(prefix: str, other: str) -> None:
    # Python compares strings by code point, as MongoDB does by UTF-8 bytes.
    assert (prefix <= other < successor(prefix)) == other.startswith(prefix)
    assert (prefix <= prefix + other < successor(prefix)) is True


@pytest.mark.parametrize(
    ("prefix", "bound"),
    [("ada", "adb"), ("a\uffff", "a\U00010000"), ("a\ud7ff", "a\ue000"), ("b\U0010ffff", "c")],
)
def test_the_bound_above_a_prefix_is_its_last_character_plus_one(prefix: str, bound: str) -> None:
    assert successor(prefix) == bound


def test_a_prefix_with_an_emoji_word_is_still_inside_the_range() -> None:
    # Appending "\uffff" would miss it: a 4-byte character sorts above U+FFFF.
    assert "ab" <= "ab\U0001f600" < successor("ab")
    assert not "ab\U0001f600" < "ab\uffff"


# The candidates pipeline.


def test_a_search_walks_one_range_of_the_longest_term_and_checks_every_term() -> None:
    index, pipeline = candidates_pipeline(Search("acme", ["ada", "love"]))
    assert index.name == "search_name"
    assert pipeline[0] == {
        "$match": {"groupId": "acme", NAME_TERMS: {"$gte": "love", "$lt": "lovf"}}
    }
    assert pipeline[1] == {
        "$match": {
            "deletedAt": None,
            "$and": [
                {NAME_TERMS: {"$elemMatch": {"$gte": "ada", "$lt": "adb"}}},
                {NAME_TERMS: {"$elemMatch": {"$gte": "love", "$lt": "lovf"}}},
            ],
        }
    }
    assert pipeline[2] == {"$limit": MAX_CANDIDATES}


def test_a_typed_search_walks_the_type_index_and_status_is_checked_after() -> None:
    index, pipeline = candidates_pipeline(
        Search("acme", ["ada"], entity_type="creator", status="active")
    )
    assert index.name == "search_type_name"
    assert pipeline[0]["$match"] == {
        "groupId": "acme",
        "type": "creator",
        NAME_TERMS: {"$gte": "ada", "$lt": "adb"},
    }
    assert pipeline[1]["$match"]["status"] == "active"


def test_no_caller_text_reaches_the_query_as_a_pattern() -> None:
    _index, pipeline = candidates_pipeline(Search("acme", ["a"]))
    assert "$regex" not in str(pipeline)
    assert "$text" not in str(pipeline)


# Ranking.


def _candidate(entity_id: str, terms: list[str], created: int) -> Document:
    return {"_id": f"acme:{entity_id}", "id": entity_id, NAME_TERMS: terms, "createdAt": created}


def test_whole_words_beat_prefixes_then_newest_then_id() -> None:
    candidates = [
        _candidate("prefix-new", ["adams", "lovelace"], 9),
        _candidate("exact-both", ["ada", "love"], 1),
        _candidate("exact-one-old", ["ada", "lovelace"], 2),
        _candidate("exact-one-new", ["ada", "lovely"], 3),
        _candidate("exact-one-tie-a", ["ada", "loves"], 3),
    ]
    ranked = rank(["ada", "love"], candidates)
    assert [c["id"] for c in ranked] == [
        "exact-both",
        "exact-one-tie-a",
        "exact-one-new",
        "exact-one-old",
        "prefix-new",
    ]


def test_a_candidate_that_misses_a_term_is_dropped() -> None:
    # A server reading `{$gte, $lt}` on an array loosely could return this one.
    loose = _candidate("loose", ["ada", "zed"], 1)
    assert rank(["lov"], [loose]) == []


# What an entity write stores.


def _request(command: EntityUpsert | EntityDelete) -> WriteRequest:
    return WriteRequest("acme", "creator", command, seq=1, received_ms=0)


def test_an_upsert_stores_the_words_of_its_name_and_replies_hide_them() -> None:
    command = EntityUpsert(
        id="a", type="creator", name="Ada Lovelace-Byron", updatedAt=5, actorId="u"
    )
    document = fold_entities([_request(command)], {}).documents["acme:a"]
    assert document[NAME_TERMS] == ["ada", "lovelace", "byron"]
    assert NAME_TERMS not in to_record(document)


def test_a_tombstone_has_no_words() -> None:
    command = EntityDelete(id="a", updatedAt=5, actorId="u")
    document = fold_entities([_request(command)], {}).documents["acme:a"]
    assert NAME_TERMS not in document


# Against the real server.


@pytest.fixture
async def db(database: Any) -> Any:
    await ensure_indexes(database)
    return database


@pytest.mark.integration
@pytest.mark.parametrize(
    ("search", "index"),
    [
        ({"terms": ["ada"]}, "search_name"),
        ({"terms": ["ada", "lovelace"], "status": "active"}, "search_name"),
        ({"terms": ["a"], "entity_type": "creator"}, "search_type_name"),
        ({"terms": ["ada", "l"], "entity_type": "creator", "status": "draft"}, "search_type_name"),
    ],
    ids=repr,
)
async def test_every_search_scans_a_search_index(
    db: Any, tenant: str, search: Document, index: str
) -> None:
    await insert(db, "entities", entity(tenant, "e1", name="Ada Lovelace"))
    chosen, pipeline = candidates_pipeline(Search(tenant, **search))
    assert chosen.name == index
    explained = await db.command(
        "explain",
        {"aggregate": "entities", "pipeline": pipeline, "cursor": {}},
        verbosity="queryPlanner",
    )
    assert indexes_scanned(explained) == {index}


@pytest.mark.integration
async def test_searches_find_words_and_prefixes_ranked(db: Any, tenant: str) -> None:
    await insert(
        db,
        "entities",
        entity(tenant, "ada", name="Ada Lovelace", created=1),
        entity(tenant, "adams", name="Adams Family", created=5),
        entity(tenant, "cafe", name="Café Ada", created=3, type="video"),
        entity(tenant, "zed", name="Ada Zed", created=4, status="draft"),
        entity(tenant, "gone", name="Ada Gone", created=9, deleted=10),
        entity(tenant, "other", name="Lovelace", created=2),
        entity(f"{tenant}x", "foreign", name="Ada Elsewhere", created=9),
    )

    async def ids(*terms: str, **filters: Any) -> list[str]:
        found = await search_entities(db, Search(tenant, list(terms), **filters), limit=10)
        return [item["id"] for item in found]

    assert await ids("ada") == ["zed", "cafe", "ada", "adams"]
    assert await ids("ad") == ["adams", "zed", "cafe", "ada"]
    assert await ids("ada", "lov") == ["ada"]
    assert await ids("lovelace") == ["other", "ada"]
    assert await ids("cafe") == ["cafe"]
    assert await ids("ada", entity_type="video") == ["cafe"]
    assert await ids("ada", status="draft") == ["zed"]
    assert await ids("nobody") == []
    # Lovelace's `z` is not a word that starts with "lov": no match across two words.
    assert await ids("ada", "zed", "lov") == []


@pytest.mark.integration
async def test_a_search_returns_at_most_limit_whole_records(db: Any, tenant: str) -> None:
    await insert(
        db,
        "entities",
        *(
            entity(tenant, f"e{n}", name=f"Item {n}", created=n, properties={"n": n})
            for n in range(8)
        ),
    )
    found = await search_entities(db, Search(tenant, ["item"]), limit=3)
    assert [item["id"] for item in found] == ["e7", "e6", "e5"]
    assert found[0]["properties"] == {"n": 7}
    assert NAME_TERMS not in found[0]

"""`entities.search` over NATS: words and prefixes of names, ranked, one tenant, bounded."""

from typing import Any

import pytest

from contracts.queries import Items
from contracts.records import EntityRecord
from tests.services.query.conftest import Ask
from tests.services.query.stored import entity, insert, record

pytestmark = pytest.mark.integration


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


async def test_a_search_finds_names_by_words_and_prefixes_whatever_the_case_and_accents(
    ask: Ask, query_db: Any, tenant: str
) -> None:
    stored = entity(tenant, "ada", name="Ada Lovelace", status="active", created=1)
    await insert(
        query_db,
        "entities",
        stored,
        entity(tenant, "cafe", name="Café Crème", created=2),
        entity(tenant, "noise", name="Charles Babbage", created=3),
    )
    answer = await ask("entities.search", {"text": "LOVELACE"})
    assert Items[EntityRecord].model_validate(answer.data)
    assert answer.data["items"] == [record(stored)]
    assert _ids((await ask("entities.search", {"text": "ada lov"})).data["items"]) == ["ada"]
    assert _ids((await ask("entities.search", {"text": "cafe creme"})).data["items"]) == ["cafe"]
    assert _ids((await ask("entities.search", {"text": "CRÈ"})).data["items"]) == ["cafe"]
    assert (await ask("entities.search", {"text": "lovelace babbage"})).data["items"] == []


async def test_whole_words_rank_before_prefixes_then_the_newest(
    ask: Ask, query_db: Any, tenant: str
) -> None:
    await insert(
        query_db,
        "entities",
        entity(tenant, "old-word", name="Ann Smith", created=1),
        entity(tenant, "new-word", name="Ann Jones", created=2),
        entity(tenant, "newest-prefix", name="Anna Lee", created=9),
    )
    answer = await ask("entities.search", {"text": "ann"})
    assert _ids(answer.data["items"]) == ["new-word", "old-word", "newest-prefix"]
    limited = await ask("entities.search", {"text": "ann", "limit": 1})
    assert _ids(limited.data["items"]) == ["new-word"]


async def test_a_search_filters_by_type_and_status_and_hides_deleted(
    ask: Ask, query_db: Any, tenant: str
) -> None:
    await insert(
        query_db,
        "entities",
        entity(tenant, "c", name="Nova", type="creator", status="active"),
        entity(tenant, "v", name="Nova", type="video", status="draft"),
        entity(tenant, "gone", name="Nova", type="creator", deleted=5),
    )
    by_type = await ask("entities.search", {"text": "nova", "type": "video"})
    assert _ids(by_type.data["items"]) == ["v"]
    by_status = await ask("entities.search", {"text": "nova", "status": "active"})
    assert _ids(by_status.data["items"]) == ["c"]
    assert sorted(_ids((await ask("entities.search", {"text": "nova"})).data["items"])) == [
        "c",
        "v",
    ]


async def test_a_search_reads_only_its_tenant(ask: Ask, query_db: Any, tenant: str) -> None:
    await insert(query_db, "entities", entity(f"{tenant}x", "x", name="Secret Name"))
    assert (await ask("entities.search", {"text": "secret"})).data["items"] == []
    other = await ask("entities.search", {"text": "secret"}, tenant=f"{tenant}x")
    assert _ids(other.data["items"]) == ["x"]


@pytest.mark.parametrize(
    "request_",
    [
        {"text": ""},
        {"text": ".*"},
        {"text": "one two three four five six seven eight nine"},
        {"text": "x" * 257},
        {"text": "ada", "limit": 101},
        {"text": "ada", "cursor": "abc"},
        {"text": ["ada"]},
        {"text": {"$regex": "^a"}},
        {"query": "ada"},
    ],
    ids=repr,
)
async def test_searches_without_words_or_over_the_bounds_are_invalid(
    ask: Ask, request_: dict[str, Any]
) -> None:
    answer = await ask("entities.search", request_)
    assert answer.error["code"] == "invalid_request"


async def test_pattern_characters_are_separators_not_patterns(
    ask: Ask, query_db: Any, tenant: str
) -> None:
    await insert(
        query_db,
        "entities",
        entity(tenant, "a", name="Alpha"),
        entity(tenant, "b", name="Beta"),
    )
    answer = await ask("entities.search", {"text": "^(alpha|beta).*$"})
    # Both words must match one name: no name has both.
    assert answer.data["items"] == []
    assert _ids((await ask("entities.search", {"text": "al.*"})).data["items"]) == ["a"]

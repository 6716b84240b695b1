"""The ontology's type lists are exactly the seed's `convex/schema.ts` unions."""

import re
from pathlib import Path

import pytest

from contracts.ontology import CONNECTION_TYPES, ENTITY_STATUSES, ENTITY_TYPES, EVENT_TYPES

SEED = (Path(__file__).parent / "data" / "seed.txt").read_text()


def _union_after(marker: str) -> list[str]:
    """The literals of the first `v.union(...)` after `marker` in the seed's schema code."""
    start = SEED.index(marker)
    union = SEED.index("v.union(", start)
    depth, end = 0, union
    for end in range(union, len(SEED)):
        depth += {"(": 1, ")": -1}.get(SEED[end], 0)
        if depth == 0 and SEED[end] == ")":
            break
    return re.findall(r'v\.literal\("([^"]+)"\)', SEED[union:end])


def test_entity_types_are_the_seeds_61() -> None:
    seed = _union_after("entities: defineTable(")
    assert list(ENTITY_TYPES) == seed
    assert len(ENTITY_TYPES) == 61


def test_entity_statuses_are_the_seeds() -> None:
    assert list(ENTITY_STATUSES) == _union_after("status: v.optional(")
    assert ENTITY_STATUSES == ("active", "inactive", "draft", "published", "archived")


def test_connection_types_are_the_seeds_31() -> None:
    assert list(CONNECTION_TYPES) == _union_after("connections: defineTable(")
    assert len(CONNECTION_TYPES) == 31


def test_event_types_are_the_seeds_60() -> None:
    assert list(EVENT_TYPES) == _union_after("events: defineTable(")
    assert len(EVENT_TYPES) == 60


def test_the_seeds_payment_processed_is_not_an_event_type() -> None:
    # The seed's query example filters on it; the consistent reading is payment_event
    # with metadata.status == "processed" (README, "Worked examples").
    assert "payment_processed" not in EVENT_TYPES
    assert "payment_event" in EVENT_TYPES


@pytest.mark.parametrize("types", [ENTITY_TYPES, CONNECTION_TYPES, EVENT_TYPES])
def test_type_names_are_single_subject_tokens(types: tuple[str, ...]) -> None:
    assert all(re.fullmatch(r"[a-z0-9_]+", t) for t in types)

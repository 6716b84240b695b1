"""Query requests are strict: the seed's patterns are expressible, nothing else gets through."""

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.errors import ERROR_STATUS, ErrorReply
from contracts.queries import (
    MAX_IDS,
    MAX_LIMIT,
    MAX_SEARCH_LIMIT,
    QUERY_MODELS,
    REPLY_DATA,
    ConnectionItem,
    ConnectionsList,
    EntitiesGet,
    EntitiesList,
    EntitiesSearch,
    EventsList,
    GraphTraverse,
    OkReply,
    Page,
    Query,
    StatsCounts,
    TagsList,
)


def _parse(model: type[Query], payload: Any) -> Query:
    return model.model_validate_json(json.dumps(payload))


# The seed's three query patterns, as requests.


def test_get_a_creator_is_entities_get_with_a_type() -> None:
    request = _parse(EntitiesGet, {"id": "creator-1", "type": "creator"})
    assert request == EntitiesGet(id="creator-1", type="creator")


def test_the_content_a_creator_owns_is_connections_list_with_entities() -> None:
    request = _parse(
        ConnectionsList,
        {"fromEntityId": "creator-1", "relationshipType": "owns", "withEntities": True},
    )
    assert isinstance(request, ConnectionsList)
    assert request.withEntities


def test_a_users_processed_payments_is_events_list_with_a_metadata_filter() -> None:
    request = _parse(
        EventsList,
        {"actorId": "user-1", "type": "payment_event", "metadata": {"status": "processed"}},
    )
    assert isinstance(request, EventsList)
    assert request.metadata == {"status": "processed"}


# Every field that takes a string takes only a string: an operator object is refused.

STRING_FIELDS: list[tuple[type[Query], dict[str, Any], str]] = [
    (EntitiesGet, {}, "id"),
    (EntitiesGet, {"id": "e1"}, "type"),
    (EntitiesList, {}, "type"),
    (EntitiesList, {}, "status"),
    (EntitiesList, {}, "orderBy"),
    (EntitiesList, {}, "cursor"),
    (EntitiesSearch, {}, "text"),
    (EntitiesSearch, {"text": "ada"}, "type"),
    (EntitiesSearch, {"text": "ada"}, "status"),
    (ConnectionsList, {"toEntityId": "e1"}, "fromEntityId"),
    (ConnectionsList, {"fromEntityId": "e1"}, "toEntityId"),
    (ConnectionsList, {"fromEntityId": "e1"}, "relationshipType"),
    (ConnectionsList, {"fromEntityId": "e1"}, "protocol"),
    (ConnectionsList, {"fromEntityId": "e1"}, "messageType"),
    (ConnectionsList, {"fromEntityId": "e1"}, "cursor"),
    (EventsList, {}, "actorId"),
    (EventsList, {}, "targetId"),
    (EventsList, {}, "type"),
    (EventsList, {}, "cursor"),
    (TagsList, {}, "entityId"),
    (TagsList, {}, "key"),
    (TagsList, {"key": "color"}, "value"),
    (GraphTraverse, {"direction": "out", "depth": 1}, "startId"),
    (GraphTraverse, {"startId": "e1", "depth": 1}, "direction"),
    (StatsCounts, {"groupBy": "type"}, "collection"),
    (StatsCounts, {"collection": "entities"}, "groupBy"),
]

OPERATORS: list[Any] = [
    {"$gt": ""},
    {"$ne": None},
    {"$regex": ".*"},
    {"$where": "sleep(1000)"},
    ["e1"],
    1,
    True,
]


@pytest.mark.parametrize(("model", "base", "field"), STRING_FIELDS)
@pytest.mark.parametrize("hostile", OPERATORS, ids=repr)
def test_a_string_field_refuses_anything_but_a_string(
    model: type[Query], base: dict[str, Any], field: str, hostile: Any
) -> None:
    with pytest.raises(ValidationError):
        _parse(model, {**base, field: hostile})


def test_ids_refuse_operators_inside_the_list() -> None:
    with pytest.raises(ValidationError):
        _parse(EntitiesGet, {"ids": ["e1", {"$gt": ""}]})


def test_ids_are_bounded() -> None:
    assert _parse(EntitiesGet, {"ids": [f"e{i}" for i in range(MAX_IDS)]})
    with pytest.raises(ValidationError):
        _parse(EntitiesGet, {"ids": [f"e{i}" for i in range(MAX_IDS + 1)]})
    with pytest.raises(ValidationError):
        _parse(EntitiesGet, {"ids": []})


@pytest.mark.parametrize("payload", [{}, {"id": "e1", "ids": ["e2"]}], ids=["neither", "both"])
def test_entities_get_takes_exactly_one_of_id_or_ids(payload: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _parse(EntitiesGet, payload)


@pytest.mark.parametrize("record_id", ["", "-leading-dash", "a b", "a/b", "x" * 129, "é"])
def test_record_ids_are_publisher_tokens(record_id: str) -> None:
    with pytest.raises(ValidationError):
        _parse(EntitiesGet, {"id": record_id})


# Metadata filters: a flat map of scalar equalities on safe keys.


@pytest.mark.parametrize("value", ["processed", 3, 2.5, True, False, ""])
def test_metadata_filters_take_scalars(value: Any) -> None:
    request = _parse(EventsList, {"metadata": {"status": value}})
    assert isinstance(request, EventsList)
    assert request.metadata == {"status": value}


@pytest.mark.parametrize("value", [{"$ne": "x"}, {"a": 1}, ["processed"], None], ids=repr)
def test_metadata_filters_refuse_objects_arrays_and_null(value: Any) -> None:
    with pytest.raises(ValidationError):
        _parse(EventsList, {"metadata": {"status": value}})


@pytest.mark.parametrize("key", ["$where", "a.b", "status.$", "", "a b", "k" * 65, "ü"])
def test_metadata_filter_keys_are_plain_tokens(key: str) -> None:
    with pytest.raises(ValidationError):
        _parse(EventsList, {"metadata": {key: "x"}})


@pytest.mark.parametrize(
    "properties",
    [{"level": {"$ne": "x"}}, {"$where": "1"}, {"a.b": "x"}, {"level": ["pro"]}, "level=pro"],
    ids=repr,
)
def test_property_filters_are_plain_equalities_too(properties: Any) -> None:
    assert _parse(EntitiesList, {"properties": {"level": "pro", "n": 5}})
    with pytest.raises(ValidationError):
        _parse(EntitiesList, {"properties": properties})


def test_metadata_filters_are_bounded_in_number() -> None:
    with pytest.raises(ValidationError):
        _parse(EventsList, {"metadata": {f"k{i}": i for i in range(17)}})


def test_metadata_must_be_a_map() -> None:
    with pytest.raises(ValidationError):
        _parse(EventsList, {"metadata": [["status", "processed"]]})


# Limits and cursors.


@pytest.mark.parametrize("limit", [1, 50, MAX_LIMIT])
def test_limits_within_the_contract_are_accepted(limit: int) -> None:
    request = _parse(EntitiesList, {"limit": limit})
    assert isinstance(request, EntitiesList)
    assert request.limit == limit


@pytest.mark.parametrize(
    "limit", [0, -1, MAX_LIMIT + 1, 10**30, "5", 5.0, True, {"$gt": 0}], ids=repr
)
def test_limits_outside_the_contract_or_of_the_wrong_type_are_refused(limit: Any) -> None:
    with pytest.raises(ValidationError):
        _parse(EntitiesList, {"limit": limit})


@pytest.mark.parametrize("cursor", ["", "not base64!", "a" * 1025, "ab$cd", "a.b"])
def test_cursors_are_short_urlsafe_tokens(cursor: str) -> None:
    with pytest.raises(ValidationError):
        _parse(EventsList, {"cursor": cursor})


# Times, booleans and the other shapes.


@pytest.mark.parametrize("value", [-1, 2**53, "1700000000000", 1.5, True])
def test_times_are_epoch_milliseconds(value: Any) -> None:
    with pytest.raises(ValidationError):
        _parse(EventsList, {"since": value})


def test_flags_are_real_booleans() -> None:
    with pytest.raises(ValidationError):
        _parse(EntitiesList, {"includeDeleted": 1})
    with pytest.raises(ValidationError):
        _parse(EntitiesList, {"includeDeleted": "true"})


@pytest.mark.parametrize("model", list(QUERY_MODELS.values()), ids=lambda m: m.__name__)
def test_unknown_fields_are_refused(model: type[Query]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        _parse(model, {"$where": "1"})


def test_connections_list_is_anchored_on_an_entity() -> None:
    with pytest.raises(ValidationError):
        _parse(ConnectionsList, {"relationshipType": "owns"})
    assert _parse(ConnectionsList, {"toEntityId": "e1"})


@pytest.mark.parametrize(
    "payload",
    [{}, {"entityId": "e1", "key": "k"}, {"value": "v"}, {"entityId": "e1", "value": "v"}],
)
def test_tags_list_is_by_entity_or_by_key(payload: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _parse(TagsList, payload)


def test_tags_list_forms() -> None:
    assert _parse(TagsList, {"entityId": "e1"})
    assert _parse(TagsList, {"key": "color"})
    assert _parse(TagsList, {"key": "color", "value": ""})


# Search text: words to match, never a pattern.


def test_a_search_is_the_folded_words_of_its_text() -> None:
    request = _parse(EntitiesSearch, {"text": "  Ada LOVE-lace ada ", "type": "creator"})
    assert isinstance(request, EntitiesSearch)
    assert request.terms == ["ada", "love", "lace"]


@pytest.mark.parametrize(
    "text",
    ["", "   ", "--- !!", "x" * 257, "a b c d e f g h i", "\ud800ada"],
    ids=["empty", "blank", "no-words", "too-long", "nine-words", "surrogate"],
)
def test_search_text_must_hold_one_to_eight_words(text: str) -> None:
    with pytest.raises(ValidationError):
        _parse(EntitiesSearch, {"text": text})


def test_search_text_with_pattern_characters_is_only_words() -> None:
    request = _parse(EntitiesSearch, {"text": "^.*(a|b)$ [x]"})
    assert isinstance(request, EntitiesSearch)
    assert request.terms == ["a", "b", "x"]


@pytest.mark.parametrize("limit", [0, MAX_SEARCH_LIMIT + 1, "5"], ids=repr)
def test_search_limits_are_bounded(limit: Any) -> None:
    with pytest.raises(ValidationError):
        _parse(EntitiesSearch, {"text": "ada", "limit": limit})


@pytest.mark.parametrize("depth", [0, 4, -1, "2"])
def test_graph_walks_are_shallow(depth: Any) -> None:
    with pytest.raises(ValidationError):
        _parse(GraphTraverse, {"startId": "e1", "direction": "out", "depth": depth})


@pytest.mark.parametrize(
    ("collection", "group_by"),
    [("entities", "name"), ("events", "metadata.status"), ("tags", "$key"), ("tags", "value")],
)
def test_stats_group_only_by_known_fields(collection: str, group_by: str) -> None:
    with pytest.raises(ValidationError):
        _parse(StatsCounts, {"collection": collection, "groupBy": group_by})


def test_every_query_has_a_reply_shape() -> None:
    assert set(REPLY_DATA) == set(QUERY_MODELS)


# Replies.


def test_a_connections_page_reply_parses_with_joined_entities() -> None:
    reply = OkReply[Page[ConnectionItem]].model_validate(
        {
            "ok": True,
            "data": {
                "items": [
                    {
                        "id": "c1",
                        "groupId": "acme",
                        "fromEntityId": "e1",
                        "toEntityId": "e2",
                        "relationshipType": "owns",
                        "createdAt": 1,
                        "fromEntity": None,
                        "toEntity": None,
                    }
                ],
                "nextCursor": None,
            },
        }
    )
    assert reply.data.items[0].fromEntity is None


def test_error_codes_map_to_micro_statuses() -> None:
    assert ERROR_STATUS == {
        "invalid_request": 400,
        "not_found": 404,
        "timeout": 408,
        "internal": 500,
        "limit_exceeded": 429,
    }
    reply = ErrorReply.model_validate(
        {"ok": False, "error": {"code": "not_found", "message": "no entity", "details": None}}
    )
    assert reply.error.code == "not_found"


# Whatever JSON arrives, a model either accepts it or raises ValidationError.

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
field_names = st.sampled_from(
    sorted({name for model in QUERY_MODELS.values() for name in model.model_fields})
)


@settings(max_examples=300)
@given(
    model=st.sampled_from(list(QUERY_MODELS.values())),
    payload=st.dictionaries(field_names, json_values, max_size=5),
)
def test_arbitrary_json_is_validated_never_crashes(
    model: type[Query], payload: dict[str, Any]
) -> None:
    with contextlib.suppress(ValidationError):
        _parse(model, payload)


def test_events_list_compares_protocol_names_in_lower_case_as_ingest_stores_them() -> None:
    from contracts.queries import EventsList

    request = EventsList.model_validate({"metadata": {"protocol": "A2A", "taskId": "Task-1"}})
    assert request.metadata == {"protocol": "a2a", "taskId": "Task-1"}

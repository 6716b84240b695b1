"""Ingest payloads are validated strictly: clear errors, nothing unsafe gets through."""

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts.command_kinds import COMMAND_KINDS
from contracts.commands import (
    ConnectionCreate,
    EntityUpsert,
    EventPublish,
    TagSet,
)

UPSERT: dict[str, Any] = {
    "id": "01J9ZQ3V6WJ8Y0T2M5X7K4N1PB",
    "type": "creator",
    "name": "Ada",
    "properties": {"bio": "writes", "links": ["https://example.org"]},
    "status": "active",
    "updatedAt": 1_760_000_000_000,
    "actorId": "01J9ZQ3V6WJ8Y0T2M5X7K4N1PC",
}


def _with(**changes: Any) -> bytes:
    return json.dumps({**UPSERT, **changes}).encode()


def test_a_full_entity_upsert_validates() -> None:
    command = EntityUpsert.model_validate_json(json.dumps(UPSERT))
    assert command.type == "creator"
    assert command.properties["links"] == ["https://example.org"]


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [
        (_with(updatedAt="1760000000000"), "valid integer"),
        (_with(updatedAt=1.5), "valid integer"),
        (_with(updatedAt=-1), "greater than or equal"),
        (_with(type="wizard"), "Input should be"),
        (_with(status="deleted"), "Input should be"),
        (_with(name=""), "at least 1"),
        (_with(id={"$gt": ""}), "valid string"),
        (_with(id="has space"), "pattern"),
        (_with(properties={"$where": "sleep(1000)"}), r"starts with '\$'"),
        (_with(properties={"a": {"$set": 1}}), r"starts with '\$'"),
        (_with(properties={"a\u0000b": 1}), "NUL"),
        (_with(properties=[1, 2]), "should be an object"),
        (_with(surprise=True), "Extra inputs"),
        (_with(groupId="not a tenant"), "pattern"),
        (json.dumps({k: v for k, v in UPSERT.items() if k != "actorId"}).encode(), "actorId"),
        (b"[]", "should be an object"),
        (b"{", "Invalid JSON"),
    ],
)
def test_bad_entity_upserts_are_refused_with_a_clear_error(payload: bytes, complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        EntityUpsert.model_validate_json(payload)


def test_deeply_nested_properties_are_refused() -> None:
    deep: Any = "leaf"
    for _ in range(40):
        deep = {"d": deep}
    with pytest.raises(ValidationError, match="nested deeper"):
        EntityUpsert.model_validate_json(_with(properties=deep))


def test_connection_metadata_is_checked_for_consolidated_types() -> None:
    base = {"id": "c1", "fromEntityId": "a", "toEntityId": "b"}
    with pytest.raises(ValidationError, match="transactionType"):
        ConnectionCreate.model_validate({**base, "relationshipType": "transacted"})
    ok = ConnectionCreate.model_validate(
        {**base, "relationshipType": "transacted", "metadata": {"transactionType": "invoice"}}
    )
    assert ok.metadata == {"transactionType": "invoice"}
    assert ConnectionCreate.model_validate({**base, "relationshipType": "owns"}).metadata is None


def test_event_metadata_is_required_and_checked() -> None:
    base = {"id": "e1", "type": "payment_event", "actorId": "u1", "timestamp": 1}
    with pytest.raises(ValidationError, match="metadata"):
        EventPublish.model_validate(base)
    with pytest.raises(ValidationError, match="status"):
        EventPublish.model_validate({**base, "metadata": {"status": "completed"}})
    event = EventPublish.model_validate(
        {**base, "metadata": {"status": "processed", "protocol": "AP2"}}
    )
    assert event.metadata["protocol"] == "ap2"


def test_tag_values_may_be_empty_but_keys_may_not() -> None:
    assert TagSet.model_validate({"entityId": "e", "key": "k", "value": ""}).value == ""
    with pytest.raises(ValidationError):
        TagSet.model_validate({"entityId": "e", "key": "", "value": "v"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300)
@given(
    model=st.sampled_from([kind.model for kind in COMMAND_KINDS]),
    payload=json_values,
)
def test_any_json_is_either_a_command_or_a_validation_error(model: Any, payload: Any) -> None:
    with contextlib.suppress(ValidationError):
        model.model_validate_json(json.dumps(payload))


@given(st.binary(max_size=200))
def test_any_bytes_are_either_a_command_or_a_validation_error(data: bytes) -> None:
    with contextlib.suppress(ValidationError):
        EntityUpsert.model_validate_json(data)

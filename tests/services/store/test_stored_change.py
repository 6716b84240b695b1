"""A stored change's payload is exactly what the `Change` model serializes: subscribers
and the schemas read it as one."""

from datetime import UTC, datetime

from contracts.records import Change
from services.store.keys import to_record
from services.store.stored_change import StoredChange


def test_the_payload_is_the_change_models_json_without_internal_fields() -> None:
    document = {
        "_id": "acme:c1",
        "id": "c1",
        "groupId": "acme",
        "type": "creator",
        "name": "Ada \u00e9\u4e2d",
        "properties": {"nested": [1, 2.5, None, True]},
        "updatedAt": 1764680000000,
        "seenAt": datetime(2026, 12, 2, 14, 0, tzinfo=UTC),
        "seq": 7,
        "rev": 3,
    }
    change = StoredChange.of("entities", "creator", "upsert", document, version=3)

    expected = Change(collection="entities", op="upsert", record=to_record(document))
    assert change.payload() == expected.model_dump_json().encode()
    assert set(Change.model_validate_json(change.payload()).record) == {
        "id", "groupId", "type", "name", "properties", "updatedAt", "seenAt"
    }  # fmt: skip

"""Folding entity commands: the newest version wins, every applied step is recorded."""

from contracts.commands import EntityArchive, EntityDelete, EntityUpsert
from services.store.entity_fold import fold_entities
from services.store.write_request import WriteRequest


def upsert(
    entity_id: str, updated_at: int, seq: int, name: str = "n", **extra: object
) -> WriteRequest:
    command = EntityUpsert.model_validate(
        {
            "id": entity_id,
            "type": "creator",
            "name": name,
            "updatedAt": updated_at,
            "actorId": "u",
            **extra,
        }
    )
    return WriteRequest("acme", "creator", command, seq=seq, received_ms=0)


def delete(entity_id: str, updated_at: int, seq: int) -> WriteRequest:
    command = EntityDelete(id=entity_id, updatedAt=updated_at, actorId="u")
    return WriteRequest("acme", "creator", command, seq=seq, received_ms=0)


def archive(entity_id: str, updated_at: int, seq: int) -> WriteRequest:
    command = EntityArchive(id=entity_id, updatedAt=updated_at, actorId="u")
    return WriteRequest("acme", "creator", command, seq=seq, received_ms=0)


def test_a_new_entity_is_created_with_createdAt_defaulting_to_updatedAt() -> None:
    fold = fold_entities([upsert("a", 10, 1)], {})
    document = fold.documents["acme:a"]
    assert document["createdAt"] == 10
    assert document["groupId"] == "acme"
    assert document["id"] == "a"
    assert [s.lifecycle for s in fold.steps] == ["entity_created"]


def test_a_stale_update_never_overwrites_a_newer_one() -> None:
    stored = fold_entities([upsert("a", 10, 1, name="new")], {}).documents
    fold = fold_entities([upsert("a", 5, 2, name="old")], stored)
    assert fold.documents == {}
    assert [r.seq for r in fold.stale] == [2]


def test_stale_updates_inside_one_batch_lose_too() -> None:
    fold = fold_entities([upsert("a", 10, 1, name="new"), upsert("a", 5, 2, name="old")], {})
    assert fold.documents["acme:a"]["name"] == "new"
    assert [r.seq for r in fold.stale] == [2]


def test_a_tie_on_updatedAt_goes_to_the_later_message() -> None:
    fold = fold_entities([upsert("a", 10, 1, name="first"), upsert("a", 10, 2, name="second")], {})
    assert fold.documents["acme:a"]["name"] == "second"


def test_a_redelivered_command_applies_again_to_the_same_result() -> None:
    first = fold_entities([upsert("a", 10, 1)], {})
    again = fold_entities([upsert("a", 10, 1)], first.documents)
    assert again.documents == first.documents
    assert [s.lifecycle for s in again.steps] == ["entity_updated"]


def test_every_step_of_a_batch_is_recorded_and_the_last_state_stored() -> None:
    fold = fold_entities([upsert("a", 1, 1), upsert("a", 2, 2, name="b"), archive("a", 3, 3)], {})
    assert [s.lifecycle for s in fold.steps] == [
        "entity_created",
        "entity_updated",
        "entity_archived",
    ]
    assert fold.documents["acme:a"]["status"] == "archived"
    assert fold.documents["acme:a"]["name"] == "b"


def test_delete_is_soft_and_a_newer_upsert_brings_the_entity_back() -> None:
    deleted = fold_entities([upsert("a", 1, 1), delete("a", 2, 2)], {}).documents
    assert deleted["acme:a"]["deletedAt"] == 2
    revived = fold_entities([upsert("a", 3, 3)], deleted).documents
    assert "deletedAt" not in revived["acme:a"]
    assert revived["acme:a"]["createdAt"] == 1


def test_a_delete_before_the_entity_arrives_leaves_a_tombstone_that_wins_over_older_upserts() -> (
    None
):
    tombstone = fold_entities([delete("a", 5, 1)], {}).documents
    assert tombstone["acme:a"]["deletedAt"] == 5
    assert tombstone["acme:a"]["type"] == "creator"
    late = fold_entities([upsert("a", 4, 2)], tombstone)
    assert late.documents == {}


def test_upsert_replaces_name_properties_and_status() -> None:
    stored = fold_entities([upsert("a", 1, 1, properties={"x": 1}, status="draft")], {}).documents
    fold = fold_entities([upsert("a", 2, 2, name="m", properties={"y": 2})], stored)
    document = fold.documents["acme:a"]
    assert (document["name"], document["properties"], "status" in document) == (
        "m",
        {"y": 2},
        False,
    )

"""Merging entity commands: the newest version wins, whatever order commands arrive in."""

import itertools

from contracts.commands import EntityArchive, EntityDelete, EntityUpsert
from services.store.entity_fold import Document, fold_entities
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


def merged(*batches: list[WriteRequest]) -> Document:
    """The stored entity after writing each batch in turn."""
    stored: dict[str, Document] = {}
    for batch in batches:
        stored.update(fold_entities(batch, stored).documents)
    [document] = stored.values()
    return document


def visible(document: Document) -> Document:
    internal = {"version", "first", "firstOp", "contentVersion", "deleteVersion"}
    return {k: v for k, v in document.items() if k not in internal | {"archiveVersion", "rev"}}


def test_a_new_entity_is_created_with_createdAt_defaulting_to_updatedAt() -> None:
    fold = fold_entities([upsert("a", 10, 1)], {})
    document = fold.documents["acme:a"]
    assert document["createdAt"] == 10
    assert document["groupId"] == "acme"
    assert document["id"] == "a"
    assert [e.type for e in fold.lifecycle] == ["entity_created"]


def test_a_stale_update_never_overwrites_a_newer_one() -> None:
    document = merged([upsert("a", 10, 1, name="new")], [upsert("a", 5, 2, name="old")])
    assert (document["name"], document["updatedAt"]) == ("new", 10)


def test_stale_updates_inside_one_batch_lose_too() -> None:
    fold = fold_entities([upsert("a", 10, 1, name="new"), upsert("a", 5, 2, name="old")], {})
    assert fold.documents["acme:a"]["name"] == "new"


def test_a_tie_on_updatedAt_goes_to_the_later_message() -> None:
    fold = fold_entities([upsert("a", 10, 1, name="first"), upsert("a", 10, 2, name="second")], {})
    assert fold.documents["acme:a"]["name"] == "second"


def test_a_redelivered_command_changes_nothing() -> None:
    first = fold_entities([upsert("a", 10, 1)], {})
    again = fold_entities([upsert("a", 10, 1)], first.documents)
    assert again.documents == {}
    assert [e.type for e in again.lifecycle] == ["entity_created"]


def test_every_command_of_a_batch_is_recorded_and_the_last_state_stored() -> None:
    fold = fold_entities([upsert("a", 1, 1), upsert("a", 2, 2, name="b"), archive("a", 3, 3)], {})
    assert [e.type for e in fold.lifecycle] == [
        "entity_created",
        "entity_updated",
        "entity_archived",
    ]
    assert fold.documents["acme:a"]["status"] == "archived"
    assert fold.documents["acme:a"]["name"] == "b"


def test_delete_is_soft_and_a_newer_upsert_brings_the_entity_back() -> None:
    deleted = merged([upsert("a", 1, 1), delete("a", 2, 2)])
    assert deleted["deletedAt"] == 2
    revived = merged([upsert("a", 1, 1), delete("a", 2, 2)], [upsert("a", 3, 3)])
    assert "deletedAt" not in revived
    assert revived["createdAt"] == 1


def test_a_delete_before_the_entity_arrives_leaves_a_tombstone_an_older_upsert_fills_in() -> None:
    tombstone = merged([delete("a", 5, 1)])
    assert (tombstone["deletedAt"], tombstone["type"], tombstone["name"]) == (5, "creator", "")
    late = merged([delete("a", 5, 1)], [upsert("a", 4, 2, name="late")])
    assert (late["name"], late["deletedAt"], late["updatedAt"], late["createdAt"]) == (
        "late",
        5,
        5,
        4,
    )


def test_upsert_replaces_name_properties_and_status() -> None:
    stored = fold_entities([upsert("a", 1, 1, properties={"x": 1}, status="draft")], {}).documents
    fold = fold_entities([upsert("a", 2, 2, name="m", properties={"y": 2})], stored)
    document = fold.documents["acme:a"]
    assert (document["name"], document["properties"], "status" in document) == (
        "m",
        {"y": 2},
        False,
    )


def test_the_stored_state_is_the_same_whatever_order_the_commands_arrive_in() -> None:
    commands = [
        upsert("a", 10, 1, name="A", status="draft"),
        delete("a", 20, 2),
        upsert("a", 15, 3, name="B", createdAt=7),
        upsert("a", 5, 7, name="D", createdAt=9),  # older than its own createdAt
        archive("a", 12, 4),
        upsert("a", 20, 5, name="C"),
        delete("a", 25, 6),
    ]
    outcomes = {
        repr(sorted(visible(merged(*[[c] for c in order])).items()))
        for order in itertools.permutations(commands)
    }
    [outcome] = outcomes
    assert "'name', 'C'" in outcome
    assert "('deletedAt', 25)" in outcome
    assert "('createdAt', 7)" in outcome


def test_an_older_command_arriving_late_becomes_the_created_event() -> None:
    stored = fold_entities([upsert("a", 20, 1)], {}).documents
    late = fold_entities([upsert("a", 10, 2)], stored)
    assert [(e.event_id, e.type) for e in late.lifecycle] == [("lc@updated@10@a", "entity_created")]
    assert late.retyped == [("acme", "lc@updated@20@a")]

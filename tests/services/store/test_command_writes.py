"""Each command other than an entity's has one builder; its write goes where its row says."""

import pytest

from contracts.command_kinds import COMMAND_KINDS, command_kind
from contracts.commands import (
    AnyCommand,
    ConnectionCreate,
    ConnectionDelete,
    EventPublish,
    TagDelete,
    TagSet,
)
from services.store.command_writes import BUILDERS, bulk_write
from services.store.write_request import WriteRequest

TAG = {"entityId": "e1", "key": "colour", "value": "blue"}
# A command of every kind with a builder, with its subject's type token and the change
# subject its write publishes on.
SAMPLES: list[tuple[AnyCommand, str | None, str]] = [
    (
        EventPublish(id="v1", type="user_login", actorId="u", timestamp=5, metadata={}),
        "user_login",
        "one.v1.acme.changes.events.user_login",
    ),
    (
        ConnectionCreate(id="c1", fromEntityId="a", toEntityId="b", relationshipType="owns"),
        "owns",
        "one.v1.acme.changes.connections.owns",
    ),
    (ConnectionDelete(id="c1"), "owns", "one.v1.acme.changes.connections.owns"),
    (TagSet(**TAG), None, "one.v1.acme.changes.tags.set"),
    (TagDelete(**TAG), None, "one.v1.acme.changes.tags.delete"),
]


def test_every_command_but_an_entitys_has_exactly_one_builder() -> None:
    folded = {kind.model for kind in COMMAND_KINDS if kind.collection == "entities"}
    built = {kind.model for kind in COMMAND_KINDS} - folded
    assert set(BUILDERS) == built
    assert {type(command) for command, _, _ in SAMPLES} == built


@pytest.mark.parametrize(
    ("command", "type_token", "subject"), SAMPLES, ids=lambda v: type(v).__name__
)
def test_a_write_goes_to_its_rows_collection_with_its_change_op(
    command: AnyCommand, type_token: str | None, subject: str
) -> None:
    kind = command_kind(command)
    request = WriteRequest("acme", type_token, command, seq=9, received_ms=1000)
    write = bulk_write(kind, request)
    assert write.collection == kind.collection
    assert (write.change.collection, write.change.op) == (kind.collection, kind.change_op)
    assert write.change.subject == subject
    assert write.change.document["groupId"] == "acme"
    assert write.effects.record.collection == kind.collection
    assert write.operation.filter["_id"] == write.change.document["_id"]


def test_tag_writes_are_told_apart_by_stream_sequence() -> None:
    first = bulk_write(command_kind(TagSet(**TAG)), WriteRequest("acme", None, TagSet(**TAG), 1, 0))
    again = bulk_write(command_kind(TagSet(**TAG)), WriteRequest("acme", None, TagSet(**TAG), 2, 0))
    assert first.change.document["_id"] == again.change.document["_id"]
    assert first.change.msg_id != again.change.msg_id
    assert (first.effects.record.key, first.effects.record.value) == ("colour", "blue")

"""The command table: every kind of ingest command once, each with its subject and store."""

from typing import get_args

import pytest

from contracts.command_kinds import (
    COMMAND_KINDS,
    CommandKind,
    command_kind,
    record_msg_id,
    subject_command_kind,
)
from contracts.commands import AnyCommand
from contracts.ontology import COLLECTIONS, CONNECTION_TYPES, ENTITY_TYPES, EVENT_TYPES
from contracts.subjects import (
    CONNECTION_OPS,
    ENTITY_OPS,
    INGEST_KINDS,
    TAG_OPS,
    parse_ingest_subject,
)

# Every subject an ingest command comes on, one per (kind, op) the subjects allow.
SUBJECTS = (
    [f"one.v1.acme.entities.creator.{op}" for op in ENTITY_OPS]
    + [f"one.v1.acme.connections.owns.{op}" for op in CONNECTION_OPS]
    + [f"one.v1.acme.tags.{op}" for op in TAG_OPS]
    + ["one.v1.acme.events.user_login"]
)
TYPE_TOKENS = {"entities": ENTITY_TYPES, "connections": CONNECTION_TYPES, "events": EVENT_TYPES}


def test_every_command_type_has_exactly_one_row() -> None:
    models = [kind.model for kind in COMMAND_KINDS]
    assert sorted(models, key=str) == sorted(get_args(AnyCommand), key=str)
    assert len(set(models)) == len(models)


def test_every_command_subject_has_exactly_one_row() -> None:
    parsed = [parse_ingest_subject(subject) for subject in SUBJECTS]
    assert {subject.kind for subject in parsed} == set(INGEST_KINDS) - {"protocols"}
    rows = [(kind.collection, kind.subject_op) for kind in COMMAND_KINDS]
    assert sorted(rows, key=str) == sorted(((s.kind, s.op) for s in parsed), key=str)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_a_subject_names_the_row_of_its_command(subject: str) -> None:
    parsed = parse_ingest_subject(subject)
    kind = subject_command_kind(parsed.kind, parsed.op)
    assert (kind.collection, kind.subject_op) == (parsed.kind, parsed.op)
    assert kind.collection in COLLECTIONS


@pytest.mark.parametrize("kind", COMMAND_KINDS, ids=lambda kind: kind.name)
def test_a_command_names_its_own_row(kind: CommandKind) -> None:
    assert command_kind(kind.model.model_construct()) is kind


@pytest.mark.parametrize(
    "kind", [k for k in COMMAND_KINDS if k.type_field], ids=lambda kind: kind.name
)
def test_a_type_field_takes_exactly_the_subject_type_tokens(kind: CommandKind) -> None:
    assert kind.type_field is not None
    annotation = kind.model.model_fields[kind.type_field].annotation
    assert set(get_args(annotation)) == set(TYPE_TOKENS[kind.collection])


def test_only_payloads_that_name_a_type_have_a_type_field() -> None:
    for kind in COMMAND_KINDS:
        for field in ("type", "relationshipType"):
            if field in kind.model.model_fields:
                assert kind.type_field == field, kind.name
        if kind.type_field is None:
            assert not {"type", "relationshipType"} & set(kind.model.model_fields), kind.name


def test_a_change_has_its_subject_op_and_an_event_is_a_create() -> None:
    for kind in COMMAND_KINDS:
        expected = "create" if kind.collection == "events" else kind.subject_op
        assert kind.change_op == expected, kind.name


def test_only_records_written_once_take_their_id_as_the_message_id() -> None:
    # A republished event or connection create is then a duplicate the stream drops; an
    # entity upsert or a tag write is a change of its own each time.
    by_id = {kind.name for kind in COMMAND_KINDS if kind.id_is_msg_id}
    assert by_id == {"events", "connections.create"}
    assert record_msg_id("events", None, {"id": "ev-1"}) == "ev-1"
    assert record_msg_id("events", None, {"id": 7}) is None
    assert record_msg_id("entities", "upsert", {"id": "c1"}) is None
    assert record_msg_id("protocols", "Message", {"id": "m1"}) is None

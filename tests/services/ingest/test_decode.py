"""Decoding turns every possible input into a write request or a reasoned rejection."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.commands import EntityUpsert
from services.ingest.decode import RawMessage, decode
from services.ingest.rejection import Rejection
from services.store.write_request import WriteRequest

UPSERT = {"id": "a", "type": "creator", "name": "Ada", "updatedAt": 5, "actorId": "u"}


def raw(subject: str, payload: object | bytes) -> RawMessage:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return RawMessage(subject=subject, data=data, stream_seq=7, received_ms=1000)


def test_a_valid_message_becomes_a_write_request_for_its_tenant() -> None:
    request = decode(raw("one.v1.acme.entities.creator.upsert", UPSERT), 1024)
    assert isinstance(request, WriteRequest)
    assert (request.tenant, request.seq, request.received_ms) == ("acme", 7, 1000)
    assert isinstance(request.command, EntityUpsert)


@pytest.mark.parametrize(
    ("subject", "payload", "code"),
    [
        ("one.v1.acme.entities.wizard.upsert", UPSERT, "bad_subject"),
        ("one.v1.acme.entities.creator.upsert", b"\xff\xfe\x00", "malformed_json"),
        ("one.v1.acme.entities.creator.upsert", b'{"id": ', "malformed_json"),
        ("one.v1.acme.entities.creator.upsert", {**UPSERT, "updatedAt": "5"}, "invalid_payload"),
        ("one.v1.acme.entities.video.upsert", UPSERT, "subject_mismatch"),
        ("one.v1.acme.entities.creator.upsert", {**UPSERT, "groupId": "other"}, "subject_mismatch"),
        (
            "one.v1.acme.entities.creator.upsert",
            {**UPSERT, "properties": {"x": "y" * 2000}},
            "oversize",
        ),
        (
            "one.v1.acme.events.payment_event",
            {"id": "e", "type": "user_login", "actorId": "u", "timestamp": 1, "metadata": {}},
            "subject_mismatch",
        ),
        (
            "one.v1.acme.connections.owns.create",
            {"id": "c", "fromEntityId": "a", "toEntityId": "b", "relationshipType": "follows"},
            "invalid_payload",
        ),
    ],
)
def test_bad_input_is_rejected_with_its_reason(subject: str, payload: object, code: str) -> None:
    rejection = decode(raw(subject, payload), 1024)
    assert isinstance(rejection, Rejection)
    assert rejection.code == code
    assert rejection.message


def test_groupId_equal_to_the_tenant_is_accepted() -> None:
    assert isinstance(
        decode(raw("one.v1.acme.entities.creator.upsert", {**UPSERT, "groupId": "acme"}), 1024),
        WriteRequest,
    )


@given(subject=st.text(max_size=80), data=st.binary(max_size=300))
def test_decode_never_raises(subject: str, data: bytes) -> None:
    assert isinstance(decode(RawMessage(subject, data, 1, 1), 1024), WriteRequest | Rejection)

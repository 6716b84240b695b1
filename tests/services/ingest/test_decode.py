"""Decoding turns every possible input into a write request or a reasoned rejection."""

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.commands import ConnectionCreate, EntityUpsert, EventPublish
from services.ingest.decode import decode
from services.ingest.input_limits import InputLimits
from services.ingest.raw_message import RawMessage
from services.ingest.rejection import Rejection

NOW_MS = 1_800_000_000_000
UPSERT = {"id": "a", "type": "creator", "name": "Ada", "updatedAt": 5, "actorId": "u"}


def raw(subject: str, payload: object | bytes) -> RawMessage:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return RawMessage(subject=subject, data=data, stream_seq=7, received_ms=1000)


def test_a_valid_message_becomes_a_write_request_for_its_tenant() -> None:
    decoded = decode(raw("one.v1.acme.entities.creator.upsert", UPSERT), InputLimits(1024))
    assert isinstance(decoded, tuple)
    [request] = decoded
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
    rejection = decode(raw(subject, payload), InputLimits(1024))
    assert isinstance(rejection, Rejection)
    assert rejection.code == code
    assert rejection.message


def test_groupId_equal_to_the_tenant_is_accepted() -> None:
    assert isinstance(
        decode(
            raw("one.v1.acme.entities.creator.upsert", {**UPSERT, "groupId": "acme"}),
            InputLimits(1024),
        ),
        tuple,
    )


@given(subject=st.text(max_size=80), data=st.binary(max_size=300))
def test_decode_never_raises(subject: str, data: bytes) -> None:
    assert isinstance(decode(RawMessage(subject, data, 1, 1), InputLimits(1024)), tuple | Rejection)


A2A_COMPLETED = {
    "taskId": "task-1",
    "contextId": "ctx-1",
    "status": {"state": "TASK_STATE_COMPLETED", "timestamp": "2026-11-23T10:00:00Z"},
}


def protocol_raw(payload: object, headers: dict[str, str]) -> RawMessage:
    data = json.dumps(payload).encode()
    subject = "one.v1.acme.protocols.a2a.TaskStatusUpdateEvent"
    return RawMessage(subject=subject, data=data, stream_seq=3, received_ms=NOW_MS, headers=headers)


def test_a_protocol_message_becomes_its_event_and_connection() -> None:
    headers = {"Nats-Msg-Id": "m1", "One-Actor-Id": "agent-b", "One-Target-Id": "agent-a"}
    decoded = decode(protocol_raw(A2A_COMPLETED, headers), InputLimits(4096))
    assert isinstance(decoded, tuple)
    event, *rest = decoded
    assert isinstance(event.command, EventPublish)
    assert (event.command.id, event.command.type) == ("m1", "task_event")
    assert event.command.metadata["action"] == "completed"
    assert event.command.metadata["protocol"] == "a2a"
    assert event.command.metadata["taskId"] == "task-1"
    assert [type(r.command) for r in rest] == [ConnectionCreate]


def test_a_protocol_message_without_an_actor_is_rejected() -> None:
    rejection = decode(protocol_raw(A2A_COMPLETED, {"Nats-Msg-Id": "m1"}), InputLimits(4096))
    assert isinstance(rejection, Rejection)
    assert rejection.code == "invalid_envelope"
    assert "One-Actor-Id" in rejection.message


def test_a_malformed_protocol_message_is_rejected_with_the_protocols_complaint() -> None:
    bad = {**A2A_COMPLETED, "status": {"state": "TASK_STATE_DANCING"}}
    rejection = decode(
        protocol_raw(bad, {"Nats-Msg-Id": "m1", "One-Actor-Id": "a"}), InputLimits(4096)
    )
    assert isinstance(rejection, Rejection)
    assert rejection.code == "invalid_payload"
    assert "TaskStatusUpdateEvent" in rejection.message


def test_a_direct_event_with_a_known_protocol_has_its_payload_validated() -> None:
    metadata = {"action": "completed", "protocol": "a2a", "messageType": "TaskStatusUpdateEvent"}
    event: dict[str, Any] = {
        "id": "e1",
        "type": "task_event",
        "actorId": "agent-b",
        "timestamp": 1,
        "metadata": {
            "action": "completed",
            "protocol": "a2a",
            "messageType": "TaskStatusUpdateEvent",
        },
    }
    subject = "one.v1.acme.events.task_event"
    good = decode(
        raw(subject, {**event, "metadata": {**metadata, "payload": A2A_COMPLETED}}),
        InputLimits(4096),
    )
    assert isinstance(good, tuple)
    bad_payload = {**A2A_COMPLETED, "status": {"state": 7}}
    bad = decode(
        raw(subject, {**event, "metadata": {**metadata, "payload": bad_payload}}), InputLimits(4096)
    )
    assert isinstance(bad, Rejection)
    assert bad.message.startswith("metadata.payload")


def test_an_unknown_protocol_is_stored_as_it_is() -> None:
    raw_msg = RawMessage(
        "one.v1.acme.protocols.mcp.ToolCall",
        b'{"tool": "search"}',
        1,
        1,
        {"Nats-Msg-Id": "m", "One-Actor-Id": "a"},
    )
    decoded = decode(raw_msg, InputLimits(4096))
    assert isinstance(decoded, tuple)
    assert decoded[0].command.metadata == {  # type: ignore[union-attr]
        "protocol": "mcp",
        "messageType": "ToolCall",
        "payload": {"tool": "search"},
    }


LIMITS = InputLimits(max_payload_bytes=4096, max_header_bytes=1024, max_clock_skew_ms=60_000)


def event_at(
    received_ms: int, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> RawMessage:
    return RawMessage(
        "one.v1.acme.events.user_login",
        json.dumps(payload).encode(),
        stream_seq=1,
        received_ms=received_ms,
        headers=headers or {},
    )


LOGIN = {"id": "e1", "type": "user_login", "actorId": "u1", "timestamp": NOW_MS, "metadata": {}}


@pytest.mark.parametrize(
    ("metadata", "complaint"),
    [
        ({"n": 2**63}, "64-bit"),
        ({"deep": [{"n": -(2**63) - 1}]}, "64-bit"),
        ({"n": float("nan")}, "not a JSON number"),
        ({"n": float("inf")}, "not a JSON number"),
    ],
)
def test_numbers_the_store_or_strict_json_cannot_hold_are_invalid_payload(
    metadata: dict[str, Any], complaint: str
) -> None:
    rejection = decode(event_at(NOW_MS, {**LOGIN, "metadata": metadata}), LIMITS)
    assert isinstance(rejection, Rejection)
    assert rejection.code == "invalid_payload"
    assert complaint in rejection.message


def test_the_edges_of_int64_are_stored() -> None:
    metadata = {"max": 2**63 - 1, "min": -(2**63), "big": 1e308}
    assert isinstance(decode(event_at(NOW_MS, {**LOGIN, "metadata": metadata}), LIMITS), tuple)


def test_a_big_integer_in_a_protocol_body_is_invalid_payload() -> None:
    body = {"type": "CUSTOM", "name": "x", "value": {"n": 10**30}}
    raw_msg = RawMessage(
        "one.v1.acme.protocols.ag-ui.CUSTOM",
        json.dumps(body).encode(),
        1,
        NOW_MS,
        {"Nats-Msg-Id": "m", "One-Actor-Id": "a"},
    )
    rejection = decode(raw_msg, LIMITS)
    assert isinstance(rejection, Rejection)
    assert rejection.code == "invalid_payload"


def test_a_time_too_far_ahead_of_arrival_is_invalid_payload() -> None:
    in_a_minute = {**LOGIN, "timestamp": NOW_MS + 60_000}
    assert isinstance(decode(event_at(NOW_MS, in_a_minute), LIMITS), tuple)
    year_9999 = {**UPSERT, "updatedAt": 253_402_300_799_000}
    rejection = decode(
        RawMessage(
            "one.v1.acme.entities.creator.upsert", json.dumps(year_9999).encode(), 1, NOW_MS
        ),
        LIMITS,
    )
    assert isinstance(rejection, Rejection)
    assert rejection.code == "invalid_payload"
    assert "updatedAt" in rejection.message


def test_a_protocol_timestamp_header_of_thousands_of_digits_is_an_invalid_envelope() -> None:
    headers = {"Nats-Msg-Id": "m1", "One-Actor-Id": "a", "One-Timestamp": "9" * 5000}
    big = InputLimits(max_payload_bytes=4096, max_header_bytes=8192)
    rejection = decode(protocol_raw(A2A_COMPLETED, headers), big)
    assert isinstance(rejection, Rejection)
    assert rejection.code == "invalid_envelope"


def test_headers_beyond_the_limit_are_oversize() -> None:
    rejection = decode(event_at(NOW_MS, LOGIN, {"X-Big": "v" * 2000}), LIMITS)
    assert isinstance(rejection, Rejection)
    assert rejection.code == "oversize"
    assert "headers" in rejection.message


@pytest.mark.parametrize("lifecycle", ["entity_created", "entity_updated", "entity_deleted"])
def test_lifecycle_events_cannot_be_published(lifecycle: str) -> None:
    forged = {**LOGIN, "type": lifecycle, "metadata": {"entityType": "creator"}}
    raw_msg = RawMessage(f"one.v1.acme.events.{lifecycle}", json.dumps(forged).encode(), 1, NOW_MS)
    rejection = decode(raw_msg, LIMITS)
    assert isinstance(rejection, Rejection)
    assert rejection.code == "invalid_payload"
    assert "audit trail" in rejection.message

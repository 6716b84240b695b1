"""The ingest commands a protocol message becomes."""

import pytest

from contracts.protocols import (
    ProtocolEnvelope,
    connection_id,
    map_protocol_message,
    protocol_records,
)
from tests.contracts.protocols.sample_files import load

AGENT, USER = "agent_flight_booker", "user_01JV3Q7"


def _envelope(**fields: object) -> ProtocolEnvelope:
    return ProtocolEnvelope.model_validate(
        {"recordId": "01JV3Q8Z6X0F2M4N7P9R1S3T5V", "actorId": AGENT, "targetId": USER, **fields}
    )


def test_the_event_takes_its_ids_from_the_envelope_and_its_meaning_from_the_message() -> None:
    mapping = map_protocol_message(
        "a2a", "TaskStatusUpdateEvent", load("a2a", "v1_task_status_update_completed.json")
    )
    records = protocol_records("acme", _envelope(), mapping, received_at_ms=1)
    event = records.event
    assert (event.id, event.type, event.actorId, event.targetId, event.groupId) == (
        "01JV3Q8Z6X0F2M4N7P9R1S3T5V",
        "task_event",
        AGENT,
        USER,
        "acme",
    )
    assert event.metadata == mapping.metadata
    assert event.timestamp == 1777886201003  # the status time: no One-Timestamp header


def test_the_envelope_time_wins_and_the_receive_time_is_the_last_resort() -> None:
    with_time = map_protocol_message("a2a", "Message", load("a2a", "v1_message_user.json"))
    assert (
        protocol_records(
            "acme", _envelope(timestamp=5), with_time, received_at_ms=9
        ).event.timestamp
        == 5
    )
    assert protocol_records("acme", _envelope(), with_time, received_at_ms=9).event.timestamp == 9


def test_the_connection_follows_the_mappings_direction() -> None:
    submitted = map_protocol_message("a2a", "Task", load("a2a", "v1_task_submitted.json"))
    connection = protocol_records("acme", _envelope(), submitted, received_at_ms=1).connection
    assert connection is not None
    # The agent (actor) reported the task the user (target) delegated to it.
    assert (connection.fromEntityId, connection.toEntityId) == (USER, AGENT)
    assert connection.relationshipType == "delegated"
    assert connection.metadata == {"protocol": "a2a", "messageType": "Task", "taskType": "a2a_task"}


def test_one_connection_stands_for_every_message_between_two_parties() -> None:
    first = map_protocol_message("a2a", "Message", load("a2a", "v1_message_user.json"))
    second = map_protocol_message("a2a", "Message", load("a2a", "v03_message.json"))
    one = protocol_records("acme", _envelope(recordId="e1"), first, received_at_ms=1).connection
    two = protocol_records("acme", _envelope(recordId="e2"), second, received_at_ms=2).connection
    assert one is not None
    assert two is not None
    assert one.id == two.id == connection_id(AGENT, USER, "communicated", "a2a")
    assert connection_id(USER, AGENT, "communicated", "a2a") != one.id


def test_without_a_target_there_is_no_connection() -> None:
    mapping = map_protocol_message("a2a", "Message", load("a2a", "v1_message_user.json"))
    assert (
        protocol_records("acme", _envelope(targetId=None), mapping, received_at_ms=1).connection
        is None
    )


def test_related_events_get_derived_ids_and_point_at_their_source() -> None:
    mapping = map_protocol_message(
        "acp",
        "complete_checkout_session",
        load("acp", "v20260417_complete_checkout_session_completed.json"),
    )
    records = protocol_records("acme", _envelope(recordId="evt-9"), mapping, received_at_ms=1)
    (payment,) = records.related_events
    assert payment.id == "evt-9:payment"
    assert payment.type == "payment_event"
    assert payment.metadata["sourceEventId"] == "evt-9"
    assert payment.timestamp == records.event.timestamp


def test_the_tenant_must_be_a_tenant_token() -> None:
    mapping = map_protocol_message("a2a", "Message", load("a2a", "v1_message_user.json"))
    with pytest.raises(ValueError, match="groupId"):
        protocol_records("ac.me", _envelope(), mapping, received_at_ms=1)

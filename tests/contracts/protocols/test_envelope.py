"""The envelope: record id, actor, target and time of a raw protocol message, in headers."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.protocols import (
    HEADER_ACTOR_ID,
    HEADER_RECORD_ID,
    HEADER_TARGET_ID,
    HEADER_TIMESTAMP,
    EnvelopeError,
    ProtocolEnvelope,
)

HEADERS = {
    "Nats-Msg-Id": "01JV3Q8Z6X0F2M4N7P9R1S3T5V",
    "One-Actor-Id": "agent_flight_booker",
    "One-Target-Id": "user_01JV3Q7",
    "One-Timestamp": "1777886201003",
}


def test_the_header_names() -> None:
    assert (HEADER_RECORD_ID, HEADER_ACTOR_ID, HEADER_TARGET_ID, HEADER_TIMESTAMP) == (
        "Nats-Msg-Id",
        "One-Actor-Id",
        "One-Target-Id",
        "One-Timestamp",
    )


def test_all_headers_are_read() -> None:
    envelope = ProtocolEnvelope.from_headers(HEADERS)
    assert envelope == ProtocolEnvelope(
        recordId="01JV3Q8Z6X0F2M4N7P9R1S3T5V",
        actorId="agent_flight_booker",
        targetId="user_01JV3Q7",
        timestamp=1777886201003,
    )
    assert envelope.to_headers() == HEADERS


def test_target_and_time_are_optional() -> None:
    envelope = ProtocolEnvelope.from_headers(
        {"Nats-Msg-Id": "evt-1", "One-Actor-Id": "agent-1", "One-Target-Id": ""}
    )
    assert (envelope.targetId, envelope.timestamp) == (None, None)
    assert envelope.to_headers() == {"Nats-Msg-Id": "evt-1", "One-Actor-Id": "agent-1"}


def test_header_names_match_in_any_case() -> None:
    lower = {name.lower(): value for name, value in HEADERS.items()}
    assert ProtocolEnvelope.from_headers(lower) == ProtocolEnvelope.from_headers(HEADERS)


def test_a_missing_actor_is_a_clear_error() -> None:
    with pytest.raises(EnvelopeError, match="header One-Actor-Id is required: the ONE entity id"):
        ProtocolEnvelope.from_headers({"Nats-Msg-Id": "evt-1"})


@pytest.mark.parametrize("headers", [None, {}, {"One-Actor-Id": "agent-1"}])
def test_a_missing_record_id_is_a_clear_error(headers: dict[str, str] | None) -> None:
    with pytest.raises(EnvelopeError, match="header Nats-Msg-Id is required"):
        ProtocolEnvelope.from_headers(headers)


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        ("One-Actor-Id", "agent 1", "header One-Actor-Id: String should match pattern"),
        ("One-Target-Id", "$user", "header One-Target-Id: String should match pattern"),
        ("Nats-Msg-Id", "e" * 101, "header Nats-Msg-Id: String should have at most 100"),
        ("One-Timestamp", "2026-05-04T09:16:41Z", "must be epoch milliseconds"),
        ("One-Timestamp", "-5", "must be epoch milliseconds"),
        ("One-Timestamp", str(2**53), "header One-Timestamp: Input should be less than"),
    ],
)
def test_a_bad_header_value_names_the_header(header: str, value: str, reason: str) -> None:
    with pytest.raises(EnvelopeError, match=reason):
        ProtocolEnvelope.from_headers({**HEADERS, header: value})


@given(
    record_id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:~-]{0,99}", fullmatch=True),
    actor_id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:~-]{0,127}", fullmatch=True),
    timestamp=st.none() | st.integers(min_value=0, max_value=2**53 - 1),
)
def test_headers_round_trip(record_id: str, actor_id: str, timestamp: int | None) -> None:
    envelope = ProtocolEnvelope(recordId=record_id, actorId=actor_id, timestamp=timestamp)
    assert ProtocolEnvelope.from_headers(envelope.to_headers()) == envelope

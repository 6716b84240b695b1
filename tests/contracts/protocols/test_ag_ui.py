"""AG-UI events on the bus."""

import pytest

from contracts.protocols import ProtocolMessageError, known_message_types, map_protocol_message
from tests.contracts.protocols.sample_files import (
    Expected,
    Rejected,
    check_sample,
    load,
)

PROTOCOL = "ag-ui"
THREAD, RUN = "thread_01J8Z3WXYZ", "run_01J8Z3X0AB"

GOOD: dict[str, Expected] = {
    "run_started.json": Expected(
        "RUN_STARTED",
        "task_event",
        {"action": "delegated", "threadId": THREAD, "runId": RUN},
        "delegated",
    ),
    "run_finished.json": Expected(
        "RUN_FINISHED", "task_event", {"action": "completed", "runId": RUN}, "fulfilled"
    ),
    "run_error.json": Expected(
        "RUN_ERROR", "task_event", {"action": "failed", "reason": "rate_limited"}
    ),
    "text_message_start.json": Expected(
        "TEXT_MESSAGE_START", "communication_event", {"messageId": "msg_a1"}
    ),
    "text_message_content.json": Expected("TEXT_MESSAGE_CONTENT", "communication_event"),
    "text_message_end.json": Expected(
        "TEXT_MESSAGE_END", "communication_event", {"messageId": "msg_a1"}, "communicated"
    ),
    "messages_snapshot.json": Expected(
        "MESSAGES_SNAPSHOT", "communication_event", {}, "communicated"
    ),
    "tool_call_start.json": Expected(
        "TOOL_CALL_START", "communication_event", {"toolCallId": "call_1"}
    ),
    "tool_call_result.json": Expected(
        "TOOL_CALL_RESULT", "communication_event", {"toolCallId": "call_1"}, "communicated"
    ),
    "state_delta.json": Expected("STATE_DELTA", "communication_event"),
    "step_started.json": Expected("STEP_STARTED", "communication_event"),
    "custom.json": Expected("CUSTOM", "communication_event"),
    "reasoning_message_start.json": Expected("REASONING_MESSAGE_START", "communication_event"),
    "thinking_start.json": Expected("THINKING_START", "communication_event"),
}

MALFORMED: dict[str, Rejected] = {
    "malformed/run_started_missing_run_id.json": Rejected("RUN_STARTED", "runId: Field required"),
    "malformed/text_message_content_empty_delta.json": Rejected(
        "TEXT_MESSAGE_CONTENT", "delta: String should have at least 1 character"
    ),
    "malformed/messages_snapshot_bad_role.json": Rejected(
        "MESSAGES_SNAPSHOT", "messages.0.role: Input should be 'developer'"
    ),
    "malformed/run_finished_type_mismatch.json": Rejected(
        "RUN_FINISHED", "`type` is 'RUN_STARTED'; this subject carries 'RUN_FINISHED'"
    ),
    "malformed/tool_call_result_content_object.json": Rejected(
        "TOOL_CALL_RESULT", "content: Input should be a valid string"
    ),
    "malformed/text_message_end_timestamp_string.json": Rejected(
        "TEXT_MESSAGE_END", "timestamp: Input should be a valid integer"
    ),
}


def test_every_event_type_of_the_spec_is_known() -> None:
    spec = {
        "RUN_STARTED", "RUN_FINISHED", "RUN_ERROR", "STEP_STARTED", "STEP_FINISHED",
        "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END", "TEXT_MESSAGE_CHUNK",
        "TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END", "TOOL_CALL_CHUNK", "TOOL_CALL_RESULT",
        "STATE_SNAPSHOT", "STATE_DELTA", "MESSAGES_SNAPSHOT", "ACTIVITY_SNAPSHOT", "ACTIVITY_DELTA",
        "RAW", "CUSTOM", "REASONING_START", "REASONING_MESSAGE_START", "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_END", "REASONING_MESSAGE_CHUNK", "REASONING_END",
        "REASONING_ENCRYPTED_VALUE",
    }  # fmt: skip
    assert spec <= set(known_message_types(PROTOCOL))


def test_the_run_is_delegated_by_the_user_to_the_agent_that_announces_it() -> None:
    mapping = check_sample(PROTOCOL, "run_started.json", GOOD["run_started.json"])
    assert mapping.connection is not None
    assert mapping.connection.direction == "target_to_actor"


def test_the_event_timestamp_becomes_the_message_time() -> None:
    assert check_sample(PROTOCOL, "run_finished.json", GOOD["run_finished.json"]).timestamp_ms == (
        1777900841990
    )


def test_the_subject_token_is_the_event_type_verbatim() -> None:
    with pytest.raises(ProtocolMessageError, match="known: RUN_STARTED"):
        map_protocol_message(PROTOCOL, "run_started", load(PROTOCOL, "run_started.json"))

"""A2A v1.0 and v0.3 messages: what each means on the bus, and what is refused."""

from typing import get_args

import pytest

from contracts.protocols import ProtocolMessageError, map_protocol_message
from contracts.protocols.a2a import TASK_STATE_MEANINGS, TaskStateV03, TaskStateV1
from tests.contracts.protocols.sample_files import (
    Expected,
    Rejected,
    check_sample,
    load,
)

PROTOCOL = "a2a"
TASK = "task-0197a6c4-2f1e-7b3d-8a5c-9e4f1d2b6a8c"
CONTEXT = "ctx-7f3a9c2e-5b1d-4e8a-9c6f-2d4b8e1a3c5f"

GOOD: dict[str, Expected] = {
    # v1.0
    "v1_message_user.json": Expected(
        "Message",
        "communication_event",
        {"role": "ROLE_USER", "contextId": CONTEXT, "wireVersion": "1.0"},
        "communicated",
    ),
    "v1_send_message_new_task.json": Expected(
        "SendMessage", "task_event", {"action": "delegated", "wireVersion": "1.0"}, "delegated"
    ),
    "v1_send_message_continue_task.json": Expected(
        "SendMessage", "communication_event", {"taskId": TASK, "role": "ROLE_USER"}, "communicated"
    ),
    "v1_task_submitted.json": Expected(
        "Task",
        "task_event",
        {"action": "delegated", "rawState": "TASK_STATE_SUBMITTED", "taskId": TASK},
        "delegated",
    ),
    "v1_task_status_update_working.json": Expected(
        "TaskStatusUpdateEvent",
        "communication_event",
        {"rawState": "TASK_STATE_WORKING", "taskState": "working", "taskId": TASK},
        "communicated",
    ),
    "v1_task_status_update_input_required.json": Expected(
        "TaskStatusUpdateEvent",
        "communication_event",
        {"rawState": "TASK_STATE_INPUT_REQUIRED", "taskState": "input_required"},
        "communicated",
    ),
    "v1_task_status_update_completed.json": Expected(
        "TaskStatusUpdateEvent",
        "task_event",
        {"action": "completed", "rawState": "TASK_STATE_COMPLETED", "contextId": CONTEXT},
        "fulfilled",
    ),
    "v1_task_status_update_rejected.json": Expected(
        "TaskStatusUpdateEvent",
        "task_event",
        {"action": "failed", "rawState": "TASK_STATE_REJECTED", "taskState": "rejected"},
    ),
    "v1_task_artifact_update.json": Expected(
        "TaskArtifactUpdateEvent",
        "communication_event",
        {"artifactId": "art-itinerary-1", "taskId": TASK},
        "communicated",
    ),
    "v1_stream_response_status_update_failed.json": Expected(
        "StreamResponse", "task_event", {"action": "failed", "rawState": "TASK_STATE_FAILED"}
    ),
    "v1_send_message_response_task_completed.json": Expected(
        "SendMessageResponse", "task_event", {"action": "completed"}, "fulfilled"
    ),
    "v1_cancel_task.json": Expected(
        "CancelTask", "task_event", {"action": "failed", "taskId": TASK}
    ),
    "v1_agent_card.json": Expected(
        "AgentCard", "communication_event", {"agentName": "Flight Booker", "wireVersion": "1.0"}
    ),
    # v0.3
    "v03_message.json": Expected(
        "Message", "communication_event", {"role": "user", "wireVersion": "0.3"}, "communicated"
    ),
    "v03_send_message.json": Expected(
        "SendMessage", "task_event", {"action": "delegated", "wireVersion": "0.3"}, "delegated"
    ),
    "v03_task_completed.json": Expected(
        "Task",
        "task_event",
        {"action": "completed", "rawState": "completed", "wireVersion": "0.3"},
        "fulfilled",
    ),
    "v03_task_status_update_auth_required.json": Expected(
        "TaskStatusUpdateEvent",
        "communication_event",
        {"rawState": "auth-required", "taskState": "auth_required"},
        "communicated",
    ),
    "v03_task_status_update_canceled.json": Expected(
        "TaskStatusUpdateEvent",
        "task_event",
        {"action": "failed", "rawState": "canceled", "taskState": "canceled"},
    ),
    "v03_task_artifact_update.json": Expected(
        "TaskArtifactUpdateEvent", "communication_event", {"wireVersion": "0.3"}, "communicated"
    ),
    "v03_stream_response_status_update_working.json": Expected(
        "StreamResponse",
        "communication_event",
        {"rawState": "working", "taskState": "working", "wireVersion": "0.3"},
        "communicated",
    ),
    "v03_agent_card.json": Expected(
        "AgentCard", "communication_event", {"agentName": "Weather Agent", "wireVersion": "0.3"}
    ),
}

MALFORMED: dict[str, Rejected] = {
    "malformed/v1_message_missing_parts.json": Rejected("Message", "parts: Field required"),
    "malformed/v1_message_bad_role.json": Rejected("Message", "role: Input should be 'ROLE_USER'"),
    "malformed/v1_message_part_two_contents.json": Rejected(
        "Message", "parts.0: a part needs exactly one of text, raw, url, data"
    ),
    "malformed/v1_task_status_update_bad_state.json": Rejected(
        "TaskStatusUpdateEvent", "status.state: Input should be 'TASK_STATE_UNSPECIFIED'"
    ),
    "malformed/v1_task_missing_status.json": Rejected("Task", "status: Field required"),
    "malformed/v1_task_id_number.json": Rejected("Task", "id: Input should be a valid string"),
    "malformed/v1_stream_response_two_members.json": Rejected(
        "StreamResponse", "needs exactly one of task, message, statusUpdate, artifactUpdate"
    ),
    "malformed/v03_status_update_missing_final.json": Rejected(
        "StreamResponse", "a v0.3 status-update needs `final`"
    ),
    "malformed/v03_file_part_without_source.json": Rejected(
        "Message", "a file needs exactly one of `bytes` or `uri`"
    ),
    "malformed/v1_agent_card_no_interfaces.json": Rejected(
        "AgentCard", "needs `supportedInterfaces` (v1.0) or `url` and `protocolVersion` (v0.3)"
    ),
}


def test_every_task_state_of_both_versions_has_a_meaning() -> None:
    assert set(TASK_STATE_MEANINGS) == set(get_args(TaskStateV1)) | set(get_args(TaskStateV03))


@pytest.mark.parametrize(
    ("v1_state", "v03_state"),
    [
        ("TASK_STATE_SUBMITTED", "submitted"),
        ("TASK_STATE_WORKING", "working"),
        ("TASK_STATE_INPUT_REQUIRED", "input-required"),
        ("TASK_STATE_AUTH_REQUIRED", "auth-required"),
        ("TASK_STATE_COMPLETED", "completed"),
        ("TASK_STATE_FAILED", "failed"),
        ("TASK_STATE_CANCELED", "canceled"),
        ("TASK_STATE_REJECTED", "rejected"),
    ],
)
def test_both_wire_versions_of_a_state_mean_the_same(v1_state: str, v03_state: str) -> None:
    v1 = map_protocol_message(
        PROTOCOL,
        "TaskStatusUpdateEvent",
        {"taskId": "t", "contextId": "c", "status": {"state": v1_state}},
    )
    v03 = map_protocol_message(
        PROTOCOL,
        "TaskStatusUpdateEvent",
        {
            "kind": "status-update",
            "taskId": "t",
            "contextId": "c",
            "status": {"state": v03_state},
            "final": False,
        },
    )
    assert v1.event_type == v03.event_type
    assert v1.metadata.get("action") == v03.metadata.get("action")
    assert v1.metadata["taskState"] == v03.metadata["taskState"]
    assert (v1.metadata["rawState"], v03.metadata["rawState"]) == (v1_state, v03_state)


def test_a_gap_state_is_kept_raw_never_rejected() -> None:
    mapping = check_sample(
        PROTOCOL, "v1_task_status_update_working.json", GOOD["v1_task_status_update_working.json"]
    )
    assert "action" not in mapping.metadata
    assert mapping.metadata["rawState"] == "TASK_STATE_WORKING"


def test_the_agent_reports_a_submitted_task_so_the_delegation_runs_from_the_target() -> None:
    mapping = check_sample(PROTOCOL, "v1_task_submitted.json", GOOD["v1_task_submitted.json"])
    assert mapping.connection is not None
    assert mapping.connection.direction == "target_to_actor"
    assert mapping.connection.metadata["taskType"] == "a2a_task"


def test_a_new_task_request_delegates_from_the_sender() -> None:
    name = "v1_send_message_new_task.json"
    mapping = check_sample(PROTOCOL, name, GOOD[name])
    assert mapping.connection is not None
    assert mapping.connection.direction == "actor_to_target"


def test_the_status_time_becomes_the_message_time() -> None:
    name = "v1_task_status_update_completed.json"
    mapping = check_sample(PROTOCOL, name, GOOD[name])
    assert mapping.timestamp_ms == 1777886201003  # 2026-05-04T09:16:41.003Z


def test_the_payload_is_stored_as_published() -> None:
    name = "v03_task_completed.json"
    mapping = check_sample(PROTOCOL, name, GOOD[name])
    assert mapping.metadata["payload"] == load(PROTOCOL, name)


def test_unknown_fields_are_ignored() -> None:
    payload = {**load(PROTOCOL, "v1_message_user.json"), "futureField": {"x": 1}}
    mapping = map_protocol_message(PROTOCOL, "Message", payload)
    assert mapping.metadata["payload"]["futureField"] == {"x": 1}


def test_a_json_rpc_method_name_is_not_a_message_type() -> None:
    with pytest.raises(ProtocolMessageError, match="not one subject token"):
        map_protocol_message(PROTOCOL, "message/send", load(PROTOCOL, "v03_send_message.json"))

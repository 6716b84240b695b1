"""A2A (Agent2Agent) messages on the bus, v1.0 and v0.3.

The bus carries A2A's objects, not its transport: a `SendMessage` body is the request's
params (`{message, configuration, ...}`), a `Task` body is the task, never the JSON-RPC
envelope around it. Message types are the v1.0 names; a v0.3 object is published under
the same name and told apart by its `kind` field and its lower-case enum values.
"""

from typing import Any, Final, Literal, Self

from pydantic import Field, model_validator

from contracts.protocols.meaning import Handler, Meaning, ProtocolConnection, present
from contracts.protocols.wire import NonEmptyStr, WireModel, iso_to_epoch_ms

TaskStateV1 = Literal[
    "TASK_STATE_UNSPECIFIED",
    "TASK_STATE_SUBMITTED",
    "TASK_STATE_WORKING",
    "TASK_STATE_INPUT_REQUIRED",
    "TASK_STATE_AUTH_REQUIRED",
    "TASK_STATE_COMPLETED",
    "TASK_STATE_FAILED",
    "TASK_STATE_CANCELED",
    "TASK_STATE_REJECTED",
]
TaskStateV03 = Literal[
    "submitted",
    "working",
    "input-required",
    "auth-required",
    "completed",
    "failed",
    "canceled",
    "rejected",
    "unknown",
]
TaskState = Literal[TaskStateV1, TaskStateV03]
Role = Literal["ROLE_USER", "ROLE_AGENT", "ROLE_UNSPECIFIED", "user", "agent"]

# The task the bus records for a delegation: A2A names no kind of task, so one label.
TASK_TYPE: Final = "a2a_task"

V1: Final = "1.0"
V03: Final = "0.3"


class FileContent(WireModel):
    """v0.3 FilePart content: inline bytes or a URI."""

    bytes: str | None = None
    uri: str | None = None
    mimeType: str | None = None
    name: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.bytes is None) == (self.uri is None):
            raise ValueError("a file needs exactly one of `bytes` or `uri`")
        return self


class Part(WireModel):
    """v1.0: exactly one of text/raw/url/data. v0.3: `kind` text/file/data and its field."""

    kind: Literal["text", "file", "data"] | None = None
    text: str | None = None
    raw: str | None = None
    url: str | None = None
    data: Any = None
    file: FileContent | None = None
    metadata: dict[str, Any] | None = None
    filename: str | None = None
    mediaType: str | None = None

    @model_validator(mode="after")
    def _one_content(self) -> Self:
        if self.kind is not None:
            needed = {"text": self.text, "file": self.file, "data": self.data}[self.kind]
            if needed is None:
                raise ValueError(f"a v0.3 {self.kind} part needs `{self.kind}`")
            if self.kind == "data" and not isinstance(self.data, dict):
                raise ValueError("a v0.3 data part's `data` must be an object")
            return self
        members = [name for name in ("text", "raw", "url", "data") if name in self.model_fields_set]
        if len(members) != 1:
            raise ValueError(
                "a part needs exactly one of text, raw, url, data (v1.0) or a `kind` (v0.3);"
                f" found {members or 'none'}"
            )
        return self


class Message(WireModel):
    messageId: NonEmptyStr
    role: Role
    parts: list[Part] = Field(min_length=1)
    contextId: str | None = None
    taskId: str | None = None
    metadata: dict[str, Any] | None = None
    extensions: list[str] | None = None
    referenceTaskIds: list[str] | None = None
    kind: Literal["message"] | None = None

    @property
    def wire_version(self) -> str:
        return V1 if self.role.startswith("ROLE_") else V03


class TaskStatus(WireModel):
    state: TaskState
    message: Message | None = None
    timestamp: str | None = None


class Artifact(WireModel):
    artifactId: NonEmptyStr
    parts: list[Part]
    name: str | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None


class Task(WireModel):
    id: NonEmptyStr
    status: TaskStatus
    contextId: str | None = None
    artifacts: list[Artifact] | None = None
    history: list[Message] | None = None
    metadata: dict[str, Any] | None = None
    kind: Literal["task"] | None = None


class TaskStatusUpdateEvent(WireModel):
    taskId: NonEmptyStr
    contextId: NonEmptyStr
    status: TaskStatus
    final: bool | None = None
    metadata: dict[str, Any] | None = None
    kind: Literal["status-update"] | None = None

    @model_validator(mode="after")
    def _v03_final(self) -> Self:
        if self.kind is not None and self.final is None:
            raise ValueError("a v0.3 status-update needs `final`")
        return self


class TaskArtifactUpdateEvent(WireModel):
    taskId: NonEmptyStr
    contextId: NonEmptyStr
    artifact: Artifact
    append: bool | None = None
    lastChunk: bool | None = None
    metadata: dict[str, Any] | None = None
    kind: Literal["artifact-update"] | None = None


class SendMessageRequest(WireModel):
    """`SendMessage` / `SendStreamingMessage` params (v0.3 `message/send`, `message/stream`)."""

    message: Message
    configuration: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    tenant: str | None = None


class CancelTaskRequest(WireModel):
    """`CancelTask` params (v0.3 `tasks/cancel`)."""

    id: NonEmptyStr
    metadata: dict[str, Any] | None = None
    tenant: str | None = None


class StreamResponse(WireModel):
    """v1.0 stream item: exactly one member. (v0.3 streamed the bare objects.)"""

    task: Task | None = None
    message: Message | None = None
    statusUpdate: TaskStatusUpdateEvent | None = None
    artifactUpdate: TaskArtifactUpdateEvent | None = None

    @model_validator(mode="after")
    def _one_member(self) -> Self:
        members = [name for name in type(self).model_fields if getattr(self, name) is not None]
        if len(members) != 1:
            raise ValueError(
                "needs exactly one of task, message, statusUpdate, artifactUpdate;"
                f" found {members or 'none'}"
            )
        return self


class SendMessageResponse(WireModel):
    """v1.0 result: exactly one of `task` or `message`."""

    task: Task | None = None
    message: Message | None = None

    @model_validator(mode="after")
    def _one_member(self) -> Self:
        if (self.task is None) == (self.message is None):
            raise ValueError("needs exactly one of task or message")
        return self


class AgentInterface(WireModel):
    url: NonEmptyStr
    protocolBinding: NonEmptyStr  # JSONRPC, GRPC, HTTP+JSON; the spec leaves it open
    protocolVersion: NonEmptyStr
    tenant: str | None = None


class AgentSkill(WireModel):
    id: NonEmptyStr
    name: NonEmptyStr
    description: str
    tags: list[str]


class AgentCard(WireModel):
    """v1.0 lists `supportedInterfaces`; v0.3 had a top-level `url` and `protocolVersion`."""

    name: NonEmptyStr
    description: str
    version: NonEmptyStr
    capabilities: dict[str, Any]
    defaultInputModes: list[str]
    defaultOutputModes: list[str]
    skills: list[AgentSkill]
    supportedInterfaces: list[AgentInterface] | None = None
    url: str | None = None
    protocolVersion: str | None = None

    @model_validator(mode="after")
    def _interfaces(self) -> Self:
        if not self.supportedInterfaces and not (self.url and self.protocolVersion):
            raise ValueError(
                "needs `supportedInterfaces` (v1.0) or `url` and `protocolVersion` (v0.3)"
            )
        return self


# raw state -> (version-independent state, task_event action or None for the gap states)
TASK_STATE_MEANINGS: Final[dict[str, tuple[str, str | None]]] = {
    "TASK_STATE_SUBMITTED": ("submitted", "delegated"),
    "TASK_STATE_COMPLETED": ("completed", "completed"),
    "TASK_STATE_FAILED": ("failed", "failed"),
    "TASK_STATE_REJECTED": ("rejected", "failed"),
    "TASK_STATE_CANCELED": ("canceled", "failed"),
    "TASK_STATE_WORKING": ("working", None),
    "TASK_STATE_INPUT_REQUIRED": ("input_required", None),
    "TASK_STATE_AUTH_REQUIRED": ("auth_required", None),
    "TASK_STATE_UNSPECIFIED": ("unspecified", None),
    "submitted": ("submitted", "delegated"),
    "completed": ("completed", "completed"),
    "failed": ("failed", "failed"),
    "rejected": ("rejected", "failed"),
    "canceled": ("canceled", "failed"),
    "working": ("working", None),
    "input-required": ("input_required", None),
    "auth-required": ("auth_required", None),
    "unknown": ("unknown", None),
}


def _status_meaning(status: TaskStatus, task_id: str, context_id: str | None) -> Meaning:
    """A task's state as an event: terminal and submitted states are task events; the
    intermediate ones have no task action in the ontology (the gap), so they are stored
    as the agent's communication about the task, with the raw state kept."""
    state, action = TASK_STATE_MEANINGS[status.state]
    version = V1 if status.state.startswith("TASK_STATE_") else V03
    variant: dict[str, Any] = {"rawState": status.state, "taskState": state}
    connection: ProtocolConnection | None
    if action is None:
        connection = ProtocolConnection("communicated")
    else:
        variant["action"] = action
        connection = {
            # The agent reports the task; the client (the target) delegated it to the agent.
            "delegated": ProtocolConnection(
                "delegated", {"taskType": TASK_TYPE}, direction="target_to_actor"
            ),
            "completed": ProtocolConnection("fulfilled", {"fulfillmentType": TASK_TYPE}),
            "failed": None,
        }[action]
    return Meaning(
        event_type="communication_event" if action is None else "task_event",
        variant=variant,
        correlation=present(taskId=task_id, contextId=context_id),
        timestamp_ms=iso_to_epoch_ms(status.timestamp),
        wire_version=version,
        connection=connection,
    )


def _message_meaning(message: Message) -> Meaning:
    return Meaning(
        event_type="communication_event",
        variant={"role": message.role},
        correlation=present(
            messageId=message.messageId, contextId=message.contextId, taskId=message.taskId
        ),
        wire_version=message.wire_version,
        connection=ProtocolConnection("communicated"),
    )


def _task_meaning(task: Task) -> Meaning:
    return _status_meaning(task.status, task.id, task.contextId)


def _status_update_meaning(update: TaskStatusUpdateEvent) -> Meaning:
    return _status_meaning(update.status, update.taskId, update.contextId)


def _artifact_update_meaning(update: TaskArtifactUpdateEvent) -> Meaning:
    return Meaning(
        event_type="communication_event",
        variant={},
        correlation=present(
            taskId=update.taskId,
            contextId=update.contextId,
            artifactId=update.artifact.artifactId,
        ),
        wire_version=V03 if update.kind else V1,
        connection=ProtocolConnection("communicated"),
    )


def _message(payload: dict[str, Any]) -> Meaning:
    return _message_meaning(Message.model_validate(payload))


def _task(payload: dict[str, Any]) -> Meaning:
    return _task_meaning(Task.model_validate(payload))


def _status_update(payload: dict[str, Any]) -> Meaning:
    return _status_update_meaning(TaskStatusUpdateEvent.model_validate(payload))


def _artifact_update(payload: dict[str, Any]) -> Meaning:
    return _artifact_update_meaning(TaskArtifactUpdateEvent.model_validate(payload))


def _send_message(payload: dict[str, Any]) -> Meaning:
    """A message that starts a task (no `taskId`) delegates work to the receiving agent;
    one that continues a task (answering input-required, say) is conversation."""
    message = SendMessageRequest.model_validate(payload).message
    meaning = _message_meaning(message)
    if message.taskId:
        return meaning
    return Meaning(
        event_type="task_event",
        variant={**meaning.variant, "action": "delegated"},
        correlation=meaning.correlation,
        wire_version=meaning.wire_version,
        connection=ProtocolConnection("delegated", {"taskType": TASK_TYPE}),
    )


def _cancel_task(payload: dict[str, Any]) -> Meaning:
    """A cancel request ends the task unsuccessfully from the requester's side; the
    message type (`CancelTask`) tells it apart from a task that failed."""
    request = CancelTaskRequest.model_validate(payload)
    return Meaning(
        event_type="task_event",
        variant={"action": "failed"},
        correlation={"taskId": request.id},
    )


_BY_KIND: Final[dict[str, Handler]] = {
    "task": _task,
    "message": _message,
    "status-update": _status_update,
    "artifact-update": _artifact_update,
}


def _by_kind(payload: dict[str, Any], allowed: tuple[str, ...]) -> Meaning:
    kind = payload["kind"]
    if kind not in allowed:
        raise ValueError(f"`kind` must be one of {list(allowed)} here, not {kind!r}")
    return _BY_KIND[kind](payload)


def _stream_response(payload: dict[str, Any]) -> Meaning:
    if "kind" in payload:
        return _by_kind(payload, tuple(_BY_KIND))
    response = StreamResponse.model_validate(payload)
    if response.task is not None:
        return _task_meaning(response.task)
    if response.message is not None:
        return _message_meaning(response.message)
    if response.statusUpdate is not None:
        return _status_update_meaning(response.statusUpdate)
    assert response.artifactUpdate is not None
    return _artifact_update_meaning(response.artifactUpdate)


def _send_message_response(payload: dict[str, Any]) -> Meaning:
    if "kind" in payload:
        return _by_kind(payload, ("task", "message"))
    response = SendMessageResponse.model_validate(payload)
    if response.task is not None:
        return _task_meaning(response.task)
    assert response.message is not None
    return _message_meaning(response.message)


def _agent_card(payload: dict[str, Any]) -> Meaning:
    card = AgentCard.model_validate(payload)
    return Meaning(
        event_type="communication_event",
        variant={},
        correlation={"agentName": card.name},
        wire_version=V1 if card.supportedInterfaces else V03,
    )


HANDLERS: Final[dict[str, Handler]] = {
    "Message": _message,
    "SendMessage": _send_message,
    "SendStreamingMessage": _send_message,
    "SendMessageResponse": _send_message_response,
    "Task": _task,
    "TaskStatusUpdateEvent": _status_update,
    "TaskArtifactUpdateEvent": _artifact_update,
    "StreamResponse": _stream_response,
    "CancelTask": _cancel_task,
    "AgentCard": _agent_card,
}

"""AG-UI (Agent-User Interaction) events on the bus.

The message type is the event's `type` (`RUN_STARTED`), which the body repeats. Events are
sent by the agent to the user's application: the agent is the actor, the user (or the
application acting for them) the target. Streaming deltas are accepted as communication
events; most publishers will forward only run boundaries and finished messages.
"""

from typing import Any, Final, Literal, get_args

from pydantic import Field

from contracts.protocols.meaning import Handler, Meaning, ProtocolConnection
from contracts.protocols.wire import NonEmptyStr, WireModel, epoch_ms

TextRole = Literal["developer", "system", "assistant", "user"]
MessageRole = Literal["developer", "system", "assistant", "user", "tool", "activity", "reasoning"]

# The task the bus records for a run: AG-UI names no kind of run, so one label.
TASK_TYPE: Final = "agent_run"


class BaseEvent(WireModel):
    type: NonEmptyStr
    timestamp: int | None = None
    rawEvent: Any = None
    metadata: dict[str, Any] | None = None


class RunStarted(BaseEvent):
    type: Literal["RUN_STARTED"]
    threadId: NonEmptyStr
    runId: NonEmptyStr
    parentRunId: str | None = None
    input: dict[str, Any] | None = None


class RunFinished(BaseEvent):
    type: Literal["RUN_FINISHED"]
    threadId: NonEmptyStr
    runId: NonEmptyStr
    result: Any = None
    outcome: Any = None


class RunError(BaseEvent):
    type: Literal["RUN_ERROR"]
    message: str
    code: str | None = None


class StepStarted(BaseEvent):
    type: Literal["STEP_STARTED"]
    stepName: NonEmptyStr


class StepFinished(BaseEvent):
    type: Literal["STEP_FINISHED"]
    stepName: NonEmptyStr


class TextMessageStart(BaseEvent):
    type: Literal["TEXT_MESSAGE_START"]
    messageId: NonEmptyStr
    role: TextRole | None = None
    name: str | None = None


class TextMessageContent(BaseEvent):
    type: Literal["TEXT_MESSAGE_CONTENT"]
    messageId: NonEmptyStr
    delta: str = Field(min_length=1)


class TextMessageEnd(BaseEvent):
    type: Literal["TEXT_MESSAGE_END"]
    messageId: NonEmptyStr


class TextMessageChunk(BaseEvent):
    type: Literal["TEXT_MESSAGE_CHUNK"]
    messageId: str | None = None
    role: TextRole | None = None
    delta: str | None = None
    name: str | None = None


class ToolCallStart(BaseEvent):
    type: Literal["TOOL_CALL_START"]
    toolCallId: NonEmptyStr
    toolCallName: NonEmptyStr
    parentMessageId: str | None = None


class ToolCallArgs(BaseEvent):
    type: Literal["TOOL_CALL_ARGS"]
    toolCallId: NonEmptyStr
    delta: str


class ToolCallEnd(BaseEvent):
    type: Literal["TOOL_CALL_END"]
    toolCallId: NonEmptyStr


class ToolCallChunk(BaseEvent):
    type: Literal["TOOL_CALL_CHUNK"]
    toolCallId: str | None = None
    toolCallName: str | None = None
    parentMessageId: str | None = None
    delta: str | None = None


class ToolCallResult(BaseEvent):
    type: Literal["TOOL_CALL_RESULT"]
    messageId: NonEmptyStr
    toolCallId: NonEmptyStr
    content: str
    role: Literal["tool"] | None = None


class StateSnapshot(BaseEvent):
    type: Literal["STATE_SNAPSHOT"]
    snapshot: Any


class StateDelta(BaseEvent):
    type: Literal["STATE_DELTA"]
    delta: list[Any]  # RFC 6902 JSON Patch


class SnapshotMessage(WireModel):
    id: NonEmptyStr
    role: MessageRole
    content: Any = None


class MessagesSnapshot(BaseEvent):
    type: Literal["MESSAGES_SNAPSHOT"]
    messages: list[SnapshotMessage]


class ActivitySnapshot(BaseEvent):
    type: Literal["ACTIVITY_SNAPSHOT"]
    messageId: NonEmptyStr
    activityType: NonEmptyStr
    content: Any
    replace: bool | None = None


class ActivityDelta(BaseEvent):
    type: Literal["ACTIVITY_DELTA"]
    messageId: NonEmptyStr
    activityType: NonEmptyStr
    patch: list[Any]


class Raw(BaseEvent):
    type: Literal["RAW"]
    event: Any
    source: str | None = None


class Custom(BaseEvent):
    type: Literal["CUSTOM"]
    name: NonEmptyStr
    value: Any


class ReasoningStart(BaseEvent):
    type: Literal["REASONING_START"]
    messageId: NonEmptyStr


class ReasoningMessageStart(BaseEvent):
    type: Literal["REASONING_MESSAGE_START"]
    messageId: NonEmptyStr
    role: Literal["assistant"]


class ReasoningMessageContent(BaseEvent):
    type: Literal["REASONING_MESSAGE_CONTENT"]
    messageId: NonEmptyStr
    delta: str = Field(min_length=1)


class ReasoningMessageEnd(BaseEvent):
    type: Literal["REASONING_MESSAGE_END"]
    messageId: NonEmptyStr


class ReasoningMessageChunk(BaseEvent):
    type: Literal["REASONING_MESSAGE_CHUNK"]
    messageId: str | None = None
    delta: str | None = None


class ReasoningEnd(BaseEvent):
    type: Literal["REASONING_END"]
    messageId: NonEmptyStr


class ReasoningEncryptedValue(BaseEvent):
    type: Literal["REASONING_ENCRYPTED_VALUE"]
    subtype: Literal["tool-call", "message"]
    entityId: NonEmptyStr
    encryptedValue: NonEmptyStr


# Deprecated in favour of REASONING_*, still emitted by older agents.
class ThinkingStart(BaseEvent):
    type: Literal["THINKING_START"]
    title: str | None = None


class ThinkingEnd(BaseEvent):
    type: Literal["THINKING_END"]


class ThinkingTextMessageStart(BaseEvent):
    type: Literal["THINKING_TEXT_MESSAGE_START"]


class ThinkingTextMessageContent(BaseEvent):
    type: Literal["THINKING_TEXT_MESSAGE_CONTENT"]
    delta: str


class ThinkingTextMessageEnd(BaseEvent):
    type: Literal["THINKING_TEXT_MESSAGE_END"]


def _event_type(model: type[BaseEvent]) -> str:
    (name,) = get_args(model.model_fields["type"].annotation)
    return str(name)


EVENT_MODELS: Final[dict[str, type[BaseEvent]]] = {
    _event_type(model): model
    for model in (
        RunStarted,
        RunFinished,
        RunError,
        StepStarted,
        StepFinished,
        TextMessageStart,
        TextMessageContent,
        TextMessageEnd,
        TextMessageChunk,
        ToolCallStart,
        ToolCallArgs,
        ToolCallEnd,
        ToolCallChunk,
        ToolCallResult,
        StateSnapshot,
        StateDelta,
        MessagesSnapshot,
        ActivitySnapshot,
        ActivityDelta,
        Raw,
        Custom,
        ReasoningStart,
        ReasoningMessageStart,
        ReasoningMessageContent,
        ReasoningMessageEnd,
        ReasoningMessageChunk,
        ReasoningEnd,
        ReasoningEncryptedValue,
        ThinkingStart,
        ThinkingEnd,
        ThinkingTextMessageStart,
        ThinkingTextMessageContent,
        ThinkingTextMessageEnd,
    )
}

# Events that end a message the user sees: the agent communicated with the user.
_CONVERSATION: Final = frozenset({"TEXT_MESSAGE_END", "MESSAGES_SNAPSHOT", "TOOL_CALL_RESULT"})
_CORRELATION_FIELDS: Final = ("threadId", "runId", "parentRunId", "messageId", "toolCallId")


def _correlation(event: BaseEvent) -> dict[str, str]:
    found = {name: getattr(event, name, None) for name in _CORRELATION_FIELDS}
    return {name: value for name, value in found.items() if isinstance(value, str) and value}


def _meaning(event: BaseEvent) -> Meaning:
    correlation, when = _correlation(event), epoch_ms(event.timestamp)
    if isinstance(event, RunStarted):
        return Meaning(
            event_type="task_event",
            variant={"action": "delegated"},
            correlation=correlation,
            timestamp_ms=when,
            # The agent announces the run; the user (the target) delegated it.
            connection=ProtocolConnection(
                "delegated", {"taskType": TASK_TYPE}, direction="target_to_actor"
            ),
        )
    if isinstance(event, RunFinished):
        variant: dict[str, Any] = {"action": "completed"}
        if isinstance(event.outcome, str):
            variant["rawState"] = event.outcome
        return Meaning(
            event_type="task_event",
            variant=variant,
            correlation=correlation,
            timestamp_ms=when,
            connection=ProtocolConnection("fulfilled", {"fulfillmentType": TASK_TYPE}),
        )
    if isinstance(event, RunError):
        failed: dict[str, Any] = {"action": "failed"}
        if event.code:
            failed["reason"] = event.code
        return Meaning(
            event_type="task_event", variant=failed, correlation=correlation, timestamp_ms=when
        )
    return Meaning(
        event_type="communication_event",
        variant={},
        correlation=correlation,
        timestamp_ms=when,
        connection=ProtocolConnection("communicated") if event.type in _CONVERSATION else None,
    )


def _handler(event_type: str, model: type[BaseEvent]) -> Handler:
    def handle(payload: dict[str, Any]) -> Meaning:
        if payload.get("type") != event_type:
            raise ValueError(
                f"`type` is {payload.get('type')!r}; this subject carries {event_type!r}"
            )
        return _meaning(model.model_validate(payload))

    return handle


HANDLERS: Final[dict[str, Handler]] = {
    event_type: _handler(event_type, model) for event_type, model in EVENT_MODELS.items()
}

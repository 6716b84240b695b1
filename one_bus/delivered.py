"""What a subscription yields: a stored change or a dead letter, with its place in the stream."""

import json
from dataclasses import dataclass
from datetime import datetime

from nats.aio.msg import Msg

from contracts.dead_letters import (
    DLQ_HEADER_PREFIX,
    HEADER_ERROR,
    HEADER_REASON,
    HEADER_STREAM_SEQ,
    HEADER_SUBJECT,
    ORIGINAL_HEADER_PREFIX,
)
from contracts.protocols.envelope import HEADER_RECORD_ID
from contracts.records import (
    CHANGE_ADAPTER,
    Change,
    ConnectionRecord,
    ConnectionTombstone,
    EntityRecord,
    EventRecord,
    TagRecord,
)

AnyRecord = EntityRecord | ConnectionRecord | ConnectionTombstone | EventRecord | TagRecord


@dataclass(frozen=True, slots=True)
class StreamPosition:
    """Where a message sits in its stream: resume a subscription from `seq + 1`."""

    stream: str
    seq: int
    time: datetime


def _position(msg: Msg) -> StreamPosition:
    meta = msg.metadata
    return StreamPosition(meta.stream, meta.sequence.stream, meta.timestamp)


@dataclass(frozen=True, slots=True)
class ChangeMessage:
    """One write that landed in the store, as published on `changes.<collection>.<type>`."""

    subject: str
    position: StreamPosition
    change: Change

    @property
    def record(self) -> AnyRecord:
        """The stored record, typed by its collection and op (a connection deleted before
        its create arrived is a `ConnectionTombstone`)."""
        return CHANGE_ADAPTER.validate_python(self.change.model_dump()).record

    @classmethod
    def from_msg(cls, msg: Msg) -> "ChangeMessage":
        return cls(msg.subject, _position(msg), Change.model_validate_json(msg.data))


@dataclass(frozen=True, slots=True)
class DeadLetterMessage:
    """A rejected message: its original bytes and headers, and why it was refused."""

    subject: str
    position: StreamPosition
    reason: str
    error: str
    original_subject: str
    # The rejected message's sequence in the ingest stream (what a publisher's ack named).
    original_seq: int | None
    headers: dict[str, str]
    data: bytes

    @property
    def original_headers(self) -> dict[str, str]:
        """The publisher's own headers, without the DLQ's and NATS's."""
        return {
            name: value
            for name, value in self.headers.items()
            if not name.startswith((DLQ_HEADER_PREFIX, ORIGINAL_HEADER_PREFIX))
            and name != HEADER_RECORD_ID
        }

    def json(self) -> object:
        """The body as JSON, or None when it is not JSON (a `malformed_json` letter)."""
        try:
            return json.loads(self.data)
        except ValueError:
            return None

    @classmethod
    def from_msg(cls, msg: Msg) -> "DeadLetterMessage":
        headers = dict(msg.headers or {})
        seq = headers.get(HEADER_STREAM_SEQ, "")
        return cls(
            subject=msg.subject,
            position=_position(msg),
            reason=headers.get(HEADER_REASON, ""),
            error=headers.get(HEADER_ERROR, ""),
            original_subject=headers.get(HEADER_SUBJECT, ""),
            original_seq=int(seq) if seq.isdigit() else None,
            headers=headers,
            data=msg.data,
        )

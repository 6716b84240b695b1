"""Copying rejected input to the dead-letter stream, bytes and headers intact when they fit.

The DLQ message body is the original payload, unchanged, so that a fixed message can be
replayed as it was; the headers are contracts/dead_letters.py's. A dead letter always fits
the server's max payload, headers and body together: a larger publish makes nats-server
close the connection, which once stopped ingest and every tenant's queries.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from contracts.dead_letters import (
    HEADER_ERROR,
    HEADER_HEADERS_CUT,
    HEADER_PAYLOAD_CUT,
    HEADER_REASON,
    HEADER_STREAM,
    HEADER_STREAM_SEQ,
    HEADER_SUBJECT,
    ORIGINAL_HEADER_PREFIX,
    dead_letter_msg_id,
)
from contracts.nats_headers import HEADER_MSG_ID
from contracts.outcomes import OUTCOME_TO_HEADER
from contracts.subjects import INGEST_KINDS, dlq_subject, is_tenant
from services.ingest.input_limits import header_bytes
from services.ingest.jetstream_message import raw_message
from services.ingest.rejection import Rejection

MAX_ERROR_HEADER: Final = 1024
MAX_SUBJECT_HEADER: Final = 512
# Room for the original headers in a dead letter; the reason headers come on top.
MAX_ORIGINAL_HEADERS: Final = 8 * 1024
# What the NATS protocol adds to a message with headers ("NATS/1.0\r\n", the blank line).
_FRAMING: Final = 64


@dataclass(frozen=True, slots=True)
class DeadLetterMessage:
    subject: str
    headers: dict[str, str]
    data: bytes


def dead_letter_subject(subject: str) -> str:
    tokens = subject.split(".")
    tenant = tokens[2] if len(tokens) > 2 and is_tenant(tokens[2]) else "_invalid"
    kind = tokens[3] if len(tokens) > 3 and tokens[3] in INGEST_KINDS else "unknown"
    return dlq_subject(tenant, kind)


def _one_line(text: str, limit: int) -> str:
    # A header value is one line, whatever the text holds.
    return " ".join(text.split())[:limit]


def _original_headers(headers: Mapping[str, str]) -> tuple[dict[str, str], int]:
    """The original headers that fit MAX_ORIGINAL_HEADERS, and how many were cut."""
    kept: dict[str, str] = {}
    budget = MAX_ORIGINAL_HEADERS
    cut = 0
    for name, value in headers.items():
        if name.lower() == OUTCOME_TO_HEADER.lower():
            # Where this delivery's outcome went (the rejection itself): a replay asks anew.
            continue
        if name.lower().startswith("nats-"):
            name = ORIGINAL_HEADER_PREFIX + name[len("Nats-") :]
        size = header_bytes({name: value})
        if size > budget:
            cut += 1
            room = budget - header_bytes({name: ""})
            if room < 64:
                continue
            value = value.encode()[:room].decode(errors="ignore")
            size = header_bytes({name: value})
        kept[name] = value
        budget -= size
    return kept, cut


def dead_letter(msg: Msg, rejection: Rejection, max_payload: int) -> DeadLetterMessage:
    """The DLQ copy of `msg`, at most `max_payload` bytes with its headers."""
    raw = raw_message(msg)
    headers, headers_cut = _original_headers(msg.headers or {})
    headers.update(
        {
            HEADER_REASON: rejection.code,
            HEADER_ERROR: _one_line(rejection.message, MAX_ERROR_HEADER),
            HEADER_SUBJECT: _one_line(raw.subject, MAX_SUBJECT_HEADER),
            HEADER_STREAM: raw.stream,
            HEADER_STREAM_SEQ: str(raw.stream_seq),
            # One dead letter per ingest message, however often it is redelivered (the
            # sequence is the stream's own: each tenant stream counts from 1).
            HEADER_MSG_ID: dead_letter_msg_id(raw.stream, raw.stream_seq),
        }
    )
    if headers_cut:
        headers[HEADER_HEADERS_CUT] = str(headers_cut)
    data = raw.data
    room = max_payload - header_bytes(headers) - _FRAMING - len(HEADER_PAYLOAD_CUT) - 24
    if len(data) > room:
        headers[HEADER_PAYLOAD_CUT] = str(len(data))
        data = data[: max(room, 0)]
    return DeadLetterMessage(dead_letter_subject(msg.subject), headers, data)


class DeadLetters:
    def __init__(self, js: JetStreamContext, timeout_s: float, max_payload: int) -> None:
        self._js = js
        self._timeout_s = timeout_s
        self._max_payload = max_payload

    async def send(self, msg: Msg, rejection: Rejection) -> None:
        """Store the dead letter; raises if JetStream did not acknowledge it."""
        letter = dead_letter(msg, rejection, self._max_payload)
        await self._js.publish(
            letter.subject, letter.data, timeout=self._timeout_s, headers=letter.headers
        )

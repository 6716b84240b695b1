"""Reading, replaying and clearing dead letters in the DLQ stream (for operators).

A dead letter holds the original bytes and headers (see dead_letters.py), so replaying
one republishes exactly what was sent, or a fixed body, to the subject it came from.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime

from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError

from contracts.dead_letters import (
    DLQ_HEADER_PREFIX,
    HEADER_ERROR,
    HEADER_HEADERS_CUT,
    HEADER_PAYLOAD_CUT,
    HEADER_REASON,
    HEADER_STREAM,
    HEADER_STREAM_SEQ,
    HEADER_SUBJECT,
    ORIGINAL_HEADER_PREFIX,
    replay_msg_id,
)
from contracts.nats_headers import HEADER_MSG_ID
from contracts.outcomes import OUTCOME_TO_HEADER
from contracts.subjects import ALL_TENANTS, kind_wildcard


@dataclass(frozen=True, slots=True)
class DeadLetter:
    seq: int
    subject: str
    original_subject: str
    reason: str
    error: str
    headers: dict[str, str]
    data: bytes
    time: datetime | None

    @classmethod
    def from_stream(cls, raw: RawStreamMsg) -> "DeadLetter":
        headers = dict(raw.headers or {})
        return cls(
            seq=raw.seq or 0,
            subject=raw.subject or "",
            original_subject=headers.get(HEADER_SUBJECT, ""),
            reason=headers.get(HEADER_REASON, ""),
            error=headers.get(HEADER_ERROR, ""),
            headers=headers,
            data=raw.data or b"",
            time=raw.time,
        )

    @property
    def cut(self) -> bool:
        """Whether the body or headers were cut to fit the max payload."""
        return HEADER_PAYLOAD_CUT in self.headers or HEADER_HEADERS_CUT in self.headers

    @property
    def ingest_stream(self) -> str:
        """The ingest stream the original came from ('' for dead letters of versions that
        had only `ONE_INGEST`)."""
        return self.headers.get(HEADER_STREAM, "")

    @property
    def ingest_seq(self) -> int:
        """The original message's sequence in its ingest stream (`ingest_stream`)."""
        value = self.headers.get(HEADER_STREAM_SEQ, "")
        return int(value) if value.isdigit() else 0

    def original_headers(self) -> dict[str, str]:
        """The publisher's own headers, without the DLQ's and without NATS's own."""
        return {
            name: value
            for name, value in self.headers.items()
            if not name.startswith((DLQ_HEADER_PREFIX, ORIGINAL_HEADER_PREFIX))
            and name != HEADER_MSG_ID
        }


def dlq_filter(tenant: str | None) -> str:
    return kind_wildcard(tenant or ALL_TENANTS, "dlq")


class DeadLetterBox:
    def __init__(self, js: JetStreamContext, stream: str, ingest_stream: str) -> None:
        self._js = js
        self._stream = stream
        self._ingest_stream = ingest_stream

    async def scan(
        self, *, tenant: str | None = None, reason: str | None = None, after: int = 0
    ) -> AsyncIterator[DeadLetter]:
        """Dead letters in stream order, optionally one tenant's or one reason's."""
        seq = after + 1
        while True:
            try:
                raw = await self._js.get_msg(
                    self._stream, seq=seq, subject=dlq_filter(tenant), next=True
                )
            except NotFoundError:
                return
            letter = DeadLetter.from_stream(raw)
            if reason is None or letter.reason == reason:
                yield letter
            seq = letter.seq + 1

    async def get(self, seq: int) -> DeadLetter:
        """One dead letter; if it was cut, with the whole original from the ingest stream
        it came from while that stream still holds it (else as cut: `cut` stays true)."""
        letter = DeadLetter.from_stream(await self._js.get_msg(self._stream, seq=seq))
        if not letter.cut or not letter.ingest_seq:
            return letter
        try:
            original = await self._js.get_msg(
                letter.ingest_stream or self._ingest_stream, seq=letter.ingest_seq
            )
        except NotFoundError:
            return letter
        reason_headers = {
            name: value
            for name, value in letter.headers.items()
            if name.startswith(DLQ_HEADER_PREFIX)
            and name not in (HEADER_PAYLOAD_CUT, HEADER_HEADERS_CUT)
        }
        headers = {**dict(original.headers or {}), **reason_headers}
        return replace(letter, headers=headers, data=original.data or b"")

    async def replay(
        self,
        letter: DeadLetter,
        *,
        data: bytes | None = None,
        keep: bool = False,
        outcome_to: str | None = None,
    ) -> int:
        """Republish to the original subject (with `data` if given: a fixed body), its
        outcome asked at `outcome_to` if given (docs/outcomes.md).

        Returns the new message's ingest stream sequence. The dead letter is deleted
        once JetStream has stored the replay, unless `keep`.
        """
        headers = {**letter.original_headers(), HEADER_MSG_ID: replay_msg_id(letter.seq)}
        if outcome_to is not None:
            headers[OUTCOME_TO_HEADER] = outcome_to
        ack = await self._js.publish(
            letter.original_subject, letter.data if data is None else data, headers=headers
        )
        if not keep:
            await self._js.delete_msg(self._stream, letter.seq)
        return ack.seq

    async def delete(self, seq: int) -> None:
        """Remove one dead letter (a purge)."""
        await self._js.delete_msg(self._stream, seq)

    async def last_seq(self) -> int:
        """The newest dead letter's sequence (0: none yet): where a bulk run stops, so it
        never works on dead letters its own replays produced."""
        info = await self._js.stream_info(self._stream)
        return info.state.last_seq

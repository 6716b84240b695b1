"""Comparing what the store and the DLQ hold with what they must hold, exactly.

All four collections are read whole (each scenario has a database of its own) and compared
by `_id` and content, internal fields aside; the DLQ stream is read whole and compared by
the ingest sequence each dead letter names. Nothing is sampled.
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from nats.js import JetStreamContext
from pymongo.asynchronous.database import AsyncDatabase

from contracts.dead_letters import HEADER_PAYLOAD_CUT
from services.ingest.jetstream_message import raw_message
from services.store.keys import to_record
from tests.faults.oracle import COLLECTIONS, DeadLetterExpectation, Document, Expected
from tests.faults.workload import Message


@dataclass(frozen=True)
class StreamMessage:
    seq: int
    subject: str
    data: bytes
    headers: dict[str, str]
    received_ms: int


async def read_stream(js: JetStreamContext, stream: str, subjects: str) -> list[StreamMessage]:
    """Every message of a stream, in order, with the timestamp the service would see."""
    count = (await js.stream_info(stream)).state.messages
    messages: list[StreamMessage] = []
    if not count:
        return messages
    subscription = await js.subscribe(subjects, stream=stream, ordered_consumer=True)
    try:
        while len(messages) < count:
            msg = await subscription.next_msg(timeout=30)
            raw = raw_message(msg)
            messages.append(
                StreamMessage(
                    raw.stream_seq, raw.subject, raw.data, dict(raw.headers), raw.received_ms
                )
            )
    finally:
        await subscription.unsubscribe()
    return messages


async def read_store(database: AsyncDatabase[dict[str, Any]]) -> dict[str, dict[str, Document]]:
    stored: dict[str, dict[str, Document]] = {}
    for name in COLLECTIONS:
        documents = await database[name].find({}).to_list()
        stored[name] = {d["_id"]: {"_id": d["_id"], **to_record(d)} for d in documents}
    return stored


@dataclass
class Comparison:
    expected: Expected
    stored: dict[str, dict[str, Document]]
    dead_letters: list[StreamMessage]
    missing: dict[str, list[str]] = field(default_factory=dict)
    extra: dict[str, list[str]] = field(default_factory=dict)
    changed: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in COLLECTIONS:
            want, have = self.expected.store[name], self.stored[name]
            self.missing[name] = sorted(want.keys() - have.keys())
            self.extra[name] = sorted(have.keys() - want.keys())
            self.changed[name] = sorted(k for k in want.keys() & have.keys() if want[k] != have[k])
        letters = Counter(self._letter_seq(m) for m in self.dead_letters)
        want_letters = self.expected.dead_letters
        self.missing["dlq"] = [str(s) for s in sorted(want_letters.keys() - letters.keys())]
        self.extra["dlq"] = [str(s) for s, n in sorted(letters.items()) for _ in range(n - 1)]
        self.extra["dlq"] += [str(s) for s in sorted(letters.keys() - want_letters.keys())]
        self.changed["dlq"] = [
            str(self._letter_seq(m))
            for m in self.dead_letters
            if self._letter_seq(m) in want_letters
            and not self._matches(want_letters[self._letter_seq(m)], m)
        ]

    @staticmethod
    def _letter_seq(letter: StreamMessage) -> int:
        return int(letter.headers.get("One-Dlq-Stream-Seq", "0"))

    @staticmethod
    def _matches(want: DeadLetterExpectation, letter: StreamMessage) -> bool:
        """The dead letter of `want`: its whole body, or a cut that says it was cut."""
        cut = letter.headers.get(HEADER_PAYLOAD_CUT)
        data = want.data if cut is None else want.data[: len(letter.data)]
        return (cut is None or int(cut) == len(want.data)) and (
            letter.headers.get("One-Dlq-Subject", ""),
            letter.headers.get("One-Dlq-Reason", ""),
            letter.data,
        ) == (want.subject, want.reason, data)

    @property
    def lost(self) -> int:
        return sum(len(ids) for ids in self.missing.values())

    @property
    def duplicated(self) -> int:
        return sum(len(ids) for ids in self.extra.values())

    @property
    def wrong(self) -> int:
        return sum(len(ids) for ids in self.changed.values())

    @property
    def exact(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.wrong == 0

    @property
    def records(self) -> int:
        return sum(len(documents) for documents in self.stored.values())

    def explain(self, limit: int = 5) -> str:
        """The first differences of each kind, to read in a failed assertion."""
        lines = [f"lost {self.lost}, duplicated {self.duplicated}, wrong {self.wrong}"]
        for what, found in (("missing", self.missing), ("extra", self.extra)):
            lines += [f"{what} {name}: {ids[:limit]}" for name, ids in found.items() if ids]
        for name, ids in self.changed.items():
            for key in ids[:limit]:
                if name == "dlq":
                    lines.append(f"wrong dead letter for ingest seq {key}")
                    continue
                want, have = self.expected.store[name][key], self.stored[name][key]
                diff = {
                    f: (want.get(f), have.get(f))
                    for f in want.keys() | have.keys()
                    if want.get(f) != have.get(f)
                }
                lines.append(f"wrong {name} {key}: field → (expected, stored) {diff}")
        return "\n".join(lines)


async def acked_but_not_written(
    database: AsyncDatabase[dict[str, Any]],
    by_seq: dict[int, Message],
    ack_floor: int,
    dead_letters: list[StreamMessage],
) -> list[int]:
    """Stream sequences at or below the ack floor whose write is not in the store.

    Everything at or below the floor was acknowledged, so each must already have its
    effect: its record (for an entity, a merged version at least as new as its own), or
    its dead letter.
    """
    letters = {int(m.headers.get("One-Dlq-Stream-Seq", "0")) for m in dead_letters}
    stored = {name: {d["_id"]: d for d in await database[name].find({}).to_list()}
              for name in ("entities", "connections", "events", "tags")}  # fmt: skip
    unwritten = []
    for seq, message in sorted(by_seq.items()):
        if seq > ack_floor:
            break
        if message.poison is not None:
            written = seq in letters
        else:
            written = _has_effect(stored, seq, message)
        if not written:
            unwritten.append(seq)
    return unwritten


_COMPONENT = {"upsert": "contentVersion", "delete": "deleteVersion", "archive": "archiveVersion"}


def _has_effect(stored: dict[str, dict[str, Document]], seq: int, message: Message) -> bool:
    tenant, kind, *rest = message.subject.split(".")[2:]
    payload = message.payload()
    if kind == "events":
        return f"{tenant}:{payload['id']}" in stored["events"]
    if kind == "entities":
        entity = stored["entities"].get(f"{tenant}:{payload['id']}", {})
        version = f"{payload['updatedAt']:016d}.{seq:020d}"
        return bool(entity.get(_COMPONENT[rest[1]], "") >= version)
    if kind == "connections":
        connection = stored["connections"].get(f"{tenant}:{payload['id']}", {})
        return ("fromEntityId" if rest[1] == "create" else "deletedAt") in connection
    triple = (tenant, payload["entityId"], payload["key"], payload["value"])
    return any(
        (t["groupId"], t["entityId"], t["key"], t["value"]) == triple and t["seq"] >= seq
        for t in stored["tags"].values()
    )

"""What the store and the DLQ must hold, computed from what JetStream acknowledged.

Written from the rules in the README ("Guarantees") and docs/storage.md, not from the
service's code, so that the two can disagree:

- every acknowledged valid message is stored, once; every poison message is one dead
  letter with its reason;
- an entity is its commands applied in version order `(updatedAt, stream seq)`: the newest
  upsert's content, deleted or archived if the newest delete or archive is newer still,
  `updatedAt` the newest command's, `createdAt` the earliest time any command gives; every
  command is one lifecycle event (commands sharing op and `updatedAt` share one), the
  oldest command being `entity_created` if it is an upsert;
- events are stored once by id; a connection is its first create in stream order, deleted
  at the earliest delete time; a tag triple is its last set or delete in stream order.

Times a message does not carry (a connection's `createdAt`, a tag's `deletedAt`) are the
stream's timestamp of the message, which the checker reads back from the stream.
"""

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.faults.workload import Message

Document = dict[str, Any]
COLLECTIONS = ("entities", "connections", "events", "tags")


@dataclass(frozen=True)
class DeadLetterExpectation:
    subject: str
    reason: str
    data: bytes


@dataclass
class Expected:
    # Collection → `_id` → the document as stored, without internal fields.
    store: dict[str, dict[str, Document]] = field(
        default_factory=lambda: {name: {} for name in COLLECTIONS}
    )
    # Ingest stream sequence → the dead letter it must become.
    dead_letters: dict[int, DeadLetterExpectation] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return sum(len(documents) for documents in self.store.values())


@dataclass(frozen=True, order=True)
class _Command:
    updated_at: int
    seq: int
    op: str
    subject_type: str
    payload: Mapping[str, Any]


def expected_state(by_seq: Mapping[int, Message], stream_ms: Mapping[int, int]) -> Expected:
    expected = Expected()
    entity_commands: dict[tuple[str, str], list[_Command]] = defaultdict(list)
    # (seq, op, the subject's relationship type, payload) per connection.
    connection_messages: dict[tuple[str, str], list[tuple[int, str, str, Any]]] = defaultdict(list)
    last_tag_write: dict[tuple[str, str, str, str], tuple[int, str]] = {}
    for seq in sorted(by_seq):
        message = by_seq[seq]
        if message.poison is not None:
            expected.dead_letters[seq] = DeadLetterExpectation(
                message.subject, message.poison, message.data
            )
            continue
        tenant, kind, *rest = message.subject.split(".")[2:]
        payload = message.payload()
        if kind == "entities":
            command = _Command(payload["updatedAt"], seq, rest[1], rest[0], payload)
            entity_commands[(tenant, payload["id"])].append(command)
        elif kind == "events":
            key = f"{tenant}:{payload['id']}"
            expected.store["events"].setdefault(key, {"_id": key, "groupId": tenant, **payload})
        elif kind == "connections":
            connection_messages[(tenant, payload["id"])].append((seq, rest[1], rest[0], payload))
        elif kind == "tags":
            triple = (tenant, payload["entityId"], payload["key"], payload["value"])
            last_tag_write[triple] = (seq, rest[0])
    for (tenant, entity_id), commands in entity_commands.items():
        _entity(expected, tenant, entity_id, sorted(commands))
    for (tenant, connection_id), writes in connection_messages.items():
        _connection(expected, tenant, connection_id, writes, stream_ms)
    for (tenant, entity_id, key, value), (seq, op) in last_tag_write.items():
        digest = hashlib.sha256(json.dumps([entity_id, key, value]).encode()).hexdigest()
        tag: Document = {"_id": f"{tenant}:{digest}", "groupId": tenant, "entityId": entity_id}
        tag.update(key=key, value=value)
        if op == "delete":
            tag["deletedAt"] = stream_ms[seq]
        expected.store["tags"][tag["_id"]] = tag
    return expected


def _entity(expected: Expected, tenant: str, entity_id: str, commands: list[_Command]) -> None:
    """Apply in version order (`commands` is sorted by (updatedAt, seq))."""
    entity: Document = {
        "_id": f"{tenant}:{entity_id}",
        "id": entity_id,
        "groupId": tenant,
        "type": commands[0].subject_type,
        "name": "",
        "properties": {},
        "createdAt": min(c.payload.get("createdAt", c.updated_at) for c in commands),
    }
    for command in commands:
        if command.op == "upsert":
            entity.pop("deletedAt", None)
            entity.pop("status", None)
            for name in ("type", "name", "properties", "status"):
                if name in command.payload:
                    entity[name] = command.payload[name]
            entity.setdefault("properties", {})
        elif command.op == "delete":
            entity["deletedAt"] = command.updated_at
        else:
            entity["status"] = "archived"
        entity["updatedAt"] = command.updated_at
    expected.store["entities"][entity["_id"]] = entity

    first = commands[0]
    words = {"upsert": "updated", "delete": "deleted", "archive": "archived"}
    for command in commands:
        event_id = f"lc@{words[command.op]}@{command.updated_at}@{entity_id}"
        kind = "entity_created" if command is first and command.op == "upsert" else None
        key = f"{tenant}:{event_id}"
        if key in expected.store["events"]:  # a tie: the same event as an older command
            continue
        expected.store["events"][key] = {
            "_id": key,
            "id": event_id,
            "groupId": tenant,
            "type": kind or f"entity_{words[command.op]}",
            "actorId": command.payload["actorId"],
            "targetId": entity_id,
            "timestamp": command.updated_at,
            "metadata": {"entityType": command.subject_type},
        }


def _connection(
    expected: Expected,
    tenant: str,
    connection_id: str,
    writes: list[tuple[int, str, str, Any]],
    stream_ms: Mapping[int, int],
) -> None:
    key = f"{tenant}:{connection_id}"
    connection: Document = {"_id": key, "id": connection_id, "groupId": tenant}
    creates = [(seq, payload) for seq, op, _, payload in writes if op == "create"]
    if creates:
        seq, payload = min(creates, key=lambda create: create[0])
        connection.update(payload)
        connection.setdefault("createdAt", stream_ms[seq])
    else:
        # A tombstone carries its delete subject's type (the workload deletes a
        # connection under its own type only).
        connection["relationshipType"] = min(writes)[2]
    deletes = [p.get("updatedAt", stream_ms[seq]) for seq, op, _, p in writes if op == "delete"]
    if deletes:
        connection["deletedAt"] = min(deletes)
        connection["updatedAt"] = max(deletes)
    expected.store["connections"][key] = connection

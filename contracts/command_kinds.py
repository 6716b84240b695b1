"""The kinds of ingest command: for each command model, the subject it comes on, the
collection it is stored in and the op of the change it makes.

The one table of them: decoding picks the model by the subject's kind and op, checks the
payload's type field against the subject's type token, and the store writes each command
into its row's collection (services/store/command_writes.py has the document builders).
A new kind of command is its model (contracts/commands.py), its row here and its builder.
"""

from dataclasses import dataclass
from typing import Final

from contracts.commands import (
    Command,
    ConnectionCreate,
    ConnectionDelete,
    EntityArchive,
    EntityDelete,
    EntityUpsert,
    EventPublish,
    TagDelete,
    TagSet,
)
from contracts.ontology import Collection
from contracts.records import ChangeOp


@dataclass(frozen=True, slots=True)
class CommandKind:
    model: type[Command]
    # The subject's kind is the collection's name: `one.v1.<tenant>.<collection>...`.
    collection: Collection
    # The subject's op token; None where the subject has none (events).
    subject_op: str | None
    change_op: ChangeOp
    # The payload field that must equal the subject's type token; None where the payload
    # names no type (deletes and archives: the subject's type is all there is).
    type_field: str | None
    # Whether publishers use the record's id as the message id (`Nats-Msg-Id`): for
    # records written once (events, connection creates) a republish is then a duplicate
    # the stream drops; commands that change a record are each a message of their own.
    id_is_msg_id: bool = False

    @property
    def name(self) -> str:
        """`<collection>.<op>`, or the collection alone: the name of its payload's schema."""
        return f"{self.collection}.{self.subject_op}" if self.subject_op else self.collection


COMMAND_KINDS: Final[tuple[CommandKind, ...]] = (
    CommandKind(EntityUpsert, "entities", "upsert", "upsert", "type"),
    CommandKind(EntityDelete, "entities", "delete", "delete", None),
    CommandKind(EntityArchive, "entities", "archive", "archive", None),
    CommandKind(ConnectionCreate, "connections", "create", "create", "relationshipType", True),
    CommandKind(ConnectionDelete, "connections", "delete", "delete", None),
    CommandKind(TagSet, "tags", "set", "set", None),
    CommandKind(TagDelete, "tags", "delete", "delete", None),
    CommandKind(EventPublish, "events", None, "create", "type", True),
)

_BY_SUBJECT: Final[dict[tuple[str, str | None], CommandKind]] = {
    (kind.collection, kind.subject_op): kind for kind in COMMAND_KINDS
}
_BY_MODEL: Final = {kind.model: kind for kind in COMMAND_KINDS}


def subject_command_kind(subject_kind: str, subject_op: str | None) -> CommandKind:
    """The kind of command an ingest subject carries (a parsed one: never `protocols`)."""
    return _BY_SUBJECT[(subject_kind, subject_op)]


def command_kind(command: Command) -> CommandKind:
    return _BY_MODEL[type(command)]


def record_msg_id(subject_kind: str, subject_op: str | None, payload: object) -> str | None:
    """The message id a publisher gives a payload on this subject by default: its record
    id where its kind says so (and it has one), else None (a new id per message; also for
    protocol messages, which are no command)."""
    kind = _BY_SUBJECT.get((subject_kind, subject_op))
    record_id = payload.get("id") if isinstance(payload, dict) else None
    if kind is None or not kind.id_is_msg_id or not isinstance(record_id, str):
        return None
    return record_id

"""A validated command on its way to the store, with what the stream knows about it."""

from dataclasses import dataclass

from contracts.commands import AnyCommand


@dataclass(frozen=True, slots=True)
class WriteRequest:
    tenant: str
    # The type token of the subject (entity type for deletes, which carry no type).
    subject_type: str | None
    command: AnyCommand
    # JetStream stream sequence: breaks ties between writes with the same time, and
    # orders tag writes, which carry no time of their own.
    seq: int
    # When JetStream stored the message: the same on every redelivery, so defaults
    # derived from it (a connection's createdAt) are idempotent.
    received_ms: int

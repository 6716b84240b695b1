"""The parts of a JetStream message that decoding needs, free of any client library."""

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RawMessage:
    subject: str
    data: bytes
    stream_seq: int
    received_ms: int
    headers: Mapping[str, str] = field(default_factory=dict)
    # The stream it was read from (`ONE_INGEST`, or a tenant's own in the per-tenant layout).
    stream: str = ""

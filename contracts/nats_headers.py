"""The headers of NATS itself that the bus sets or reads. The bus's own `One-*` headers are
defined with the messages that carry them (envelope, dead letters, outcomes, errors)."""

from collections.abc import Mapping
from typing import Final

# JetStream drops a publish whose id is already in the stream's duplicate window.
HEADER_MSG_ID: Final = "Nats-Msg-Id"
# How a KV entry was written; a deletion or purge is a marker, not a value.
HEADER_KV_OPERATION: Final = "KV-Operation"
_KV_DELETIONS: Final = frozenset({"DEL", "PURGE"})


def is_kv_deletion(headers: Mapping[str, str] | None) -> bool:
    """Whether a KV entry's message (a watch of the bucket) marks its key deleted."""
    return (headers or {}).get(HEADER_KV_OPERATION) in _KV_DELETIONS

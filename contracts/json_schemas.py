"""JSON Schema for every message kind, so services in other languages validate too.

The type lists appear as `enum`s. `one-bus schema export DIR` writes these to files.
"""

from typing import Any

from pydantic import BaseModel

from contracts.commands import COMMAND_MODELS
from contracts.records import Change, ConnectionRecord, EntityRecord, EventRecord, TagRecord

_RECORDS: dict[str, type[BaseModel]] = {
    "record.entity": EntityRecord,
    "record.connection": ConnectionRecord,
    "record.event": EventRecord,
    "record.tag": TagRecord,
    "change": Change,
}


def message_schemas() -> dict[str, dict[str, Any]]:
    """Schema name → JSON Schema: `<kind>.<op>` for ingest payloads, then records."""
    schemas: dict[str, dict[str, Any]] = {}
    for (kind, op), command in COMMAND_MODELS.items():
        schemas[f"{kind}.{op}" if op else kind] = command.model_json_schema()
    for name, record in _RECORDS.items():
        schemas[name] = record.model_json_schema()
    return schemas

"""JSON Schema for every message kind, so services in other languages validate too.

Generated from the very models the service validates with (and the tables their
validators use: contracts/schema_rules.py), so the schemas cannot drift from the service.
Each schema is a standalone JSON Schema 2020-12 document with an `$id`;
`one-bus schema export DIR` writes them to files, next to the AsyncAPI document
(contracts/asyncapi.py) that ties them to subjects. What JSON Schema cannot state is said
in each schema's `description` (docs/queries.md, "What the schemas guarantee").
"""

from typing import Any, Final

from pydantic import BaseModel, TypeAdapter

from contracts.asyncapi import ok_reply_model
from contracts.command_kinds import COMMAND_KINDS
from contracts.dead_letters import dead_letter_headers_schema
from contracts.errors import ErrorReply
from contracts.outcomes import OUTCOME_MODELS, outcome_json_schema
from contracts.queries import QUERY_MODELS, OkReply
from contracts.records import (
    AnyChange,
    ConnectionRecord,
    ConnectionTombstone,
    EntityRecord,
    EventRecord,
    TagRecord,
)
from contracts.watches import (
    WATCH_MODELS,
    WATCH_PUSH_MODELS,
    WATCH_STARTED_MODELS,
    WatchControl,
    WatchEnded,
    WatchPush,
    WatchRenewed,
    WatchStopped,
)

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX: Final = "urn:one-bus:v1:schema:"

_RECORDS: dict[str, type[BaseModel]] = {
    "record.entity": EntityRecord,
    "record.connection": ConnectionRecord,
    "record.connection-tombstone": ConnectionTombstone,
    "record.event": EventRecord,
    "record.tag": TagRecord,
}


def schema_id(name: str) -> str:
    """The `$id` of the schema named `name` (`entities.upsert`, `query.events.list.reply`)."""
    return ID_PREFIX + name


def _standalone(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": schema_id(name), **schema}


def _reply(data: type[BaseModel]) -> dict[str, Any]:
    ok: Any = OkReply[data]  # type: ignore[valid-type]
    return TypeAdapter(ok | ErrorReply).json_schema()


def message_schemas() -> dict[str, dict[str, Any]]:
    """Schema name → JSON Schema: `<kind>.<op>` for ingest payloads, records, the change,
    the error reply and a dead letter's headers (`dlq.headers`), then
    `query.<name>.request` and `query.<name>.reply` (the ok or the error reply), the
    live queries' `watch.<name>.request|reply|push`, `watch.renew|stop.request|reply`,
    `watch.push` (any watch's) and `watch.ended` (docs/watch.md), and the write outcomes:
    `outcome` (either answer) and `outcome.stored|rejected` (docs/outcomes.md)."""
    schemas: dict[str, dict[str, Any]] = {}
    for kind in COMMAND_KINDS:
        schemas[kind.name] = kind.model.model_json_schema()
    for name, record in _RECORDS.items():
        schemas[name] = record.model_json_schema()
    schemas["change"] = TypeAdapter(AnyChange).json_schema()
    schemas["error"] = ErrorReply.model_json_schema()
    schemas["dlq.headers"] = dead_letter_headers_schema()
    for name, request in QUERY_MODELS.items():
        schemas[f"query.{name}.request"] = request.model_json_schema()
        ok: Any = ok_reply_model(name)
        schemas[f"query.{name}.reply"] = TypeAdapter(ok | ErrorReply).json_schema()
    for name, request in WATCH_MODELS.items():
        schemas[f"watch.{name}.request"] = request.model_json_schema()
        schemas[f"watch.{name}.reply"] = _reply(WATCH_STARTED_MODELS[name])
        schemas[f"watch.{name}.push"] = WATCH_PUSH_MODELS[name].model_json_schema()
    for verb, data in (("renew", WatchRenewed), ("stop", WatchStopped)):
        schemas[f"watch.{verb}.request"] = WatchControl.model_json_schema()
        schemas[f"watch.{verb}.reply"] = _reply(data)
    schemas["watch.push"] = WatchPush.model_json_schema()
    schemas["watch.ended"] = WatchEnded.model_json_schema()
    schemas["outcome"] = outcome_json_schema()
    for status, outcome in OUTCOME_MODELS.items():
        schemas[f"outcome.{status}"] = outcome.model_json_schema()
    return {name: _standalone(name, schema) for name, schema in schemas.items()}

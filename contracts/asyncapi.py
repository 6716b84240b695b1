"""An AsyncAPI 3.0 document for ONE Bus, built from the contracts (pure, no I/O).

It describes the service's side of every subject kind: it receives ingest commands,
events and raw protocol messages (answering the write's outcome at the publisher's
`One-Outcome-To` inbox when asked), answers queries and watches (request/reply), and sends
changes, dead letters and watch pushes. Clients in other languages generate code or check
messages from it; `one-bus schema export DIR` writes it as `asyncapi.json`.

Payload schemas are the pydantic models' JSON Schemas, generated together so that shared
definitions appear once under `components.schemas` and every `$ref` points there (a
model's own `#/$defs/...` would not resolve inside a larger document).
"""

from typing import Any, Final, cast

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from contracts.commands import (
    ConnectionCreate,
    ConnectionDelete,
    EntityArchive,
    EntityDelete,
    EntityUpsert,
    EventPublish,
    TagDelete,
    TagSet,
)
from contracts.dead_letters import dead_letter_headers_schema
from contracts.errors import ErrorReply
from contracts.metadata_rules import KNOWN_PROTOCOLS
from contracts.ontology import (
    CONNECTION_TYPES,
    ENTITY_TYPES,
    EVENT_TYPES,
    PUBLISHABLE_EVENT_TYPES,
)
from contracts.outcomes import OUTCOME_MODELS, OUTCOME_TO_HEADER
from contracts.protocols.envelope import (
    HEADER_ACTOR_ID,
    HEADER_CORRELATION_ID,
    HEADER_RECORD_ID,
    HEADER_TARGET_ID,
    HEADER_TIMESTAMP,
)
from contracts.queries import QUERY_MODELS, REPLY_DATA, OkReply
from contracts.records import (
    ConnectionCreated,
    ConnectionDeleted,
    EntityChange,
    EventChange,
    TagChange,
)
from contracts.subjects import (
    CHANGES_STREAM,
    CONNECTION_OPS,
    DLQ_STREAM,
    ENTITY_OPS,
    INGEST_KINDS,
    TAG_OPS,
    ConnectionOp,
    EntityOp,
    TagOp,
    change_subject,
    connection_subject,
    dlq_subject,
    entity_subject,
    event_subject,
    protocol_subject,
    query_subject,
    tag_subject,
    watch_subject,
)
from contracts.watches import (
    WATCH_MODELS,
    WATCH_PUSH_MODELS,
    WATCH_STARTED_MODELS,
    DeliverTo,
    WatchControl,
    WatchEnded,
    WatchPush,
    WatchRenewed,
    WatchStarted,
    WatchStopped,
)

SCHEMAS: Final = "#/components/schemas/"
_COMMANDS: Final[dict[str, tuple[type[BaseModel], str]]] = {
    # message name → (payload model, channel)
    "entityUpsert": (EntityUpsert, "entityCommands"),
    "entityDelete": (EntityDelete, "entityCommands"),
    "entityArchive": (EntityArchive, "entityCommands"),
    "connectionCreate": (ConnectionCreate, "connectionCommands"),
    "connectionDelete": (ConnectionDelete, "connectionCommands"),
    "tagSet": (TagSet, "tagCommands"),
    "tagDelete": (TagDelete, "tagCommands"),
    "event": (EventPublish, "events"),
}
_CHANGES: Final[dict[str, tuple[tuple[type[BaseModel], ...], str, dict[str, Any]]]] = {
    # collection → (payload models, the subject's last token, its values)
    "entities": ((EntityChange,), "entityType", {"enum": list(ENTITY_TYPES)}),
    "connections": (
        (ConnectionCreated, ConnectionDeleted),
        "relationshipType",
        {"enum": list(CONNECTION_TYPES)},
    ),
    "events": ((EventChange,), "eventType", {"enum": list(EVENT_TYPES)}),
    # Tags have no type: the token is the op, so `changes.tags.delete` follows removals.
    "tags": ((TagChange,), "op", {"enum": list(TAG_OPS)}),
}


def _camel(*parts: str) -> str:
    words = [word for part in parts for word in part.replace("_", ".").split(".") if word]
    return words[0] + "".join(word[:1].upper() + word[1:] for word in words[1:])


def _header(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


def _headers(required: list[str], **described: str) -> dict[str, Any]:
    names = {name.replace("_", "-"): text for name, text in described.items()}
    return {"type": "object", "properties": {n: _header(t) for n, t in names.items()}} | (
        {"required": required} if required else {}
    )


_OUTCOME_TO: Final = {
    # The very rule ingest checks a target with (contracts/outcomes.py `valid_target`).
    **TypeAdapter(DeliverTo).json_schema(),
    "description": "Optional: ask what became of this write. A subject the publisher"
    " subscribes to; once the write is stored (or dead-lettered) and acked, the service"
    " publishes one outcome there (channel `outcomes`), at most once. Checked by the"
    " service, beyond this schema: it is the publisher's own inbox, `_INBOX.…`, or under"
    " the secure layout the message's tenant's, `_INBOX_TENANT.<tenant>.…`; any other"
    " target gets no answer.",
}
_MSG_ID_HEADERS: Final = {
    "type": "object",
    "properties": {
        HEADER_RECORD_ID: _header(
            "JetStream deduplicates on it: the record id for events and connection creates,"
            " a new id per command otherwise; a retry reuses it."
        ),
        OUTCOME_TO_HEADER: _OUTCOME_TO,
    },
}
# A channel's address is a subject with its parameters where the tokens go.
_T: Final = "{tenant}"
_TENANT: Final = {
    "description": "The tenant: one token of [A-Za-z0-9_-]{1,64}; it becomes every record's"
    " groupId.",
    "examples": ["acme"],
}


def _with_outcome_to(headers: dict[str, Any]) -> dict[str, Any]:
    return {**headers, "properties": {**headers["properties"], OUTCOME_TO_HEADER: _OUTCOME_TO}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": name}


def _channel(
    address: str | None,
    description: str,
    messages: dict[str, str],
    parameters: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    channel: dict[str, Any] = {
        "address": address,
        "description": description,
        "messages": {name: _ref(f"#/components/messages/{ref}") for name, ref in messages.items()},
    }
    if parameters:
        channel["parameters"] = parameters
    return channel


def _operation(
    action: str, channel: str, messages: list[str], summary: str, **extra: Any
) -> dict[str, Any]:
    return {
        "action": action,
        "channel": _ref(f"#/channels/{channel}"),
        "summary": summary,
        "messages": [_ref(f"#/channels/{channel}/messages/{name}") for name in messages],
        **extra,
    }


def ok_reply_model(query: str) -> type[BaseModel]:
    """`{"ok": true, "data": ...}` with the query's data shape, as a model."""
    # REPLY_DATA holds runtime types (unions of generics), which mypy cannot see as types.
    model: type[BaseModel] = OkReply[REPLY_DATA[query]]  # type: ignore[valid-type]
    return model


_WATCH_REPLIES: Final[dict[str, type[BaseModel]]] = {
    "renewed": WatchRenewed,
    "stopped": WatchStopped,
}


def _ok(data: type[BaseModel]) -> type[BaseModel]:
    model: type[BaseModel] = OkReply[data]  # type: ignore[valid-type]
    return model


def _schemas() -> tuple[dict[str, Any], dict[tuple[str, str], dict[str, Any]]]:
    """All payload schemas, generated together: (components.schemas, (group, name) → ref)."""
    entries: list[tuple[str, str, type[BaseModel]]] = [
        ("command", name, model) for name, (model, _) in _COMMANDS.items()
    ]
    entries += [
        ("change", model.__name__, model) for models, _, _ in _CHANGES.values() for model in models
    ]
    entries += [("request", name, model) for name, model in QUERY_MODELS.items()]
    entries += [("reply", name, ok_reply_model(name)) for name in QUERY_MODELS]
    entries.append(("error", "error", ErrorReply))
    entries += [("watchRequest", name, model) for name, model in WATCH_MODELS.items()]
    entries += [("watchReply", name, _ok(data)) for name, data in _WATCH_REPLIES.items()]
    entries += [("watchStarted", n, _ok(model)) for n, model in WATCH_STARTED_MODELS.items()]
    entries += [("watchPushOf", name, model) for name, model in WATCH_PUSH_MODELS.items()]
    entries += [("watchControl", "control", WatchControl),
                ("watchEnded", "ended", WatchEnded)]  # fmt: skip
    entries += [("outcome", status, model) for status, model in OUTCOME_MODELS.items()]
    refs, top = models_json_schema(
        [(model, "validation") for _, _, model in entries], ref_template=SCHEMAS + "{model}"
    )
    by_name = {(group, name): refs[(model, "validation")] for group, name, model in entries}
    return top.get("$defs", {}), by_name


def asyncapi_document(version: str = "1.0.0") -> dict[str, Any]:
    """The AsyncAPI 3.0 document (a JSON-able dict); `version` is the document's version."""
    schemas, schema_of = _schemas()
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}

    for name, (model, _) in _COMMANDS.items():
        messages[name] = {
            "name": name,
            "title": model.__name__,
            "summary": (model.__doc__ or model.__name__).strip().splitlines()[0],
            "payload": schema_of[("command", name)],
            "headers": _MSG_ID_HEADERS,
        }
    messages["protocolMessage"] = {
        "name": "protocolMessage",
        "title": "Raw protocol message",
        "summary": "An A2A, ACP, AP2, x402 or AG-UI message, unchanged as its spec has it.",
        "payload": {"description": "The protocol message itself (JSON)."},
        "headers": _with_outcome_to(
            _headers(
                [HEADER_RECORD_ID, HEADER_ACTOR_ID],
                **{
                    HEADER_RECORD_ID: "The id of the event the message becomes (at most 100"
                    " characters); JetStream deduplicates on it.",
                    HEADER_ACTOR_ID: "The ONE entity id of the party that sent the message.",
                    HEADER_TARGET_ID: "The ONE entity id of the party it was sent to.",
                    HEADER_TIMESTAMP: "When it happened: epoch milliseconds, decimal digits.",
                    HEADER_CORRELATION_ID: "Ties messages the protocol itself does not link.",
                },
            )
        ),
    }
    for collection, (models, _, _) in _CHANGES.items():
        payloads = [schema_of[("change", model.__name__)] for model in models]
        messages[_camel(collection, "change")] = {
            "name": _camel(collection, "change"),
            "title": f"{collection} change",
            "summary": f"A write to `{collection}` that landed in the store.",
            "payload": payloads[0] if len(payloads) == 1 else {"oneOf": payloads},
        }
    messages["deadLetter"] = {
        "name": "deadLetter",
        "title": "Dead letter",
        "summary": "A rejected message: its original bytes and headers, and the reason.",
        "payload": {"description": "The rejected message's body, byte for byte."},
        "headers": dead_letter_headers_schema(),
    }
    messages["queryError"] = {
        "name": "queryError",
        "title": "Query error",
        "summary": "A query failed; the code also travels in Nats-Service-Error-Code.",
        "payload": schema_of[("error", "error")],
    }

    channels["entityCommands"] = _channel(
        entity_subject(_T, "{entityType}", cast(EntityOp, "{op}")),
        "Create, update, delete and archive entities.",
        {"entityUpsert": "entityUpsert", "entityDelete": "entityDelete",
         "entityArchive": "entityArchive"},
        {
            "tenant": _TENANT,
            "entityType": {"enum": list(ENTITY_TYPES), "description": "The entity's type."},
            "op": {"enum": list(ENTITY_OPS), "description": "upsert, delete or archive."},
        },
    )  # fmt: skip
    channels["connectionCommands"] = _channel(
        connection_subject(_T, "{relationshipType}", cast(ConnectionOp, "{op}")),
        "Create and delete connections between entities.",
        {"connectionCreate": "connectionCreate", "connectionDelete": "connectionDelete"},
        {
            "tenant": _TENANT,
            "relationshipType": {"enum": list(CONNECTION_TYPES)},
            "op": {"enum": list(CONNECTION_OPS)},
        },
    )
    channels["tagCommands"] = _channel(
        tag_subject(_T, cast(TagOp, "{op}")),
        "Set and delete (entityId, key, value) tags.",
        {"tagSet": "tagSet", "tagDelete": "tagDelete"},
        {"tenant": _TENANT, "op": {"enum": list(TAG_OPS)}},
    )
    channels["events"] = _channel(
        event_subject(_T, "{eventType}"),
        "Something happened.",
        {"event": "event"},
        {
            "tenant": _TENANT,
            "eventType": {
                "enum": list(PUBLISHABLE_EVENT_TYPES),
                "description": "The lifecycle types (`entity_created`, ...) are the service's"
                " own: it records them for entity commands.",
            },
        },
    )
    channels["protocolMessages"] = _channel(
        protocol_subject(_T, "{protocol}", "{messageType}"),
        "Raw agent and commerce protocol messages; each becomes a ONE event.",
        {"protocolMessage": "protocolMessage"},
        {
            "tenant": _TENANT,
            "protocol": {
                "description": f"{', '.join(KNOWN_PROTOCOLS)} or any other token",
                "examples": list(KNOWN_PROTOCOLS),
            },
            "messageType": {
                "description": "The spec's own name for the message",
                "examples": ["TaskStatusUpdateEvent", "PaymentMandate", "RUN_FINISHED"],
            },
        },
    )
    for collection, (_, token, values) in _CHANGES.items():
        channels[_camel(collection, "changes")] = _channel(
            change_subject(_T, collection, f"{{{token}}}"),
            f"What was persisted in `{collection}`, published after the write (stream"
            f" {CHANGES_STREAM}); the last token is the record's `{token}`.",
            {_camel(collection, "change"): _camel(collection, "change")},
            {"tenant": _TENANT, token: values},
        )
    channels["deadLetters"] = _channel(
        dlq_subject(_T, "{kind}"),
        f"Rejected input, with the reason (stream {DLQ_STREAM}).",
        {"deadLetter": "deadLetter"},
        {"tenant": _TENANT, "kind": {"enum": [*INGEST_KINDS, "unknown"]}},
    )

    outcomes = _outcomes(schema_of, messages, channels)
    for command_channel, names in (
        ("entityCommands", ["entityUpsert", "entityDelete", "entityArchive"]),
        ("connectionCommands", ["connectionCreate", "connectionDelete"]),
        ("tagCommands", ["tagSet", "tagDelete"]),
        ("events", ["event"]),
        ("protocolMessages", ["protocolMessage"]),
    ):
        operations[_camel("receive", command_channel)] = _operation(
            "receive",
            command_channel,
            names,
            "Validated, stored, or dead-lettered with a reason.",
            description="Published with JetStream (the PubAck says the message is in the"
            " ingest stream). A message with a `One-Outcome-To` header is answered at that"
            " inbox once its write is durable (the reply, channel `outcomes`).",
            reply={
                "address": {
                    "location": f"$message.header#/{OUTCOME_TO_HEADER}",
                    "description": "The publisher's inbox, named by the header.",
                },
                "channel": _ref("#/channels/outcomes"),
                "messages": [_ref(f"#/channels/outcomes/messages/{m}") for m in outcomes],
            },
        )
    for collection in _CHANGES:
        channel = _camel(collection, "changes")
        operations[_camel("send", collection, "changes")] = _operation(
            "send", channel, [_camel(collection, "change")], "Every write that landed."
        )
    operations["sendDeadLetters"] = _operation(
        "send", "deadLetters", ["deadLetter"], "Every rejected message, once."
    )

    for name, request in QUERY_MODELS.items():
        request_name, reply_name = _camel("query", name, "request"), _camel("query", name, "reply")
        messages[request_name] = {
            "name": request_name,
            "title": f"{name} request",
            "summary": (request.__doc__ or name).strip().splitlines()[0],
            "payload": schema_of[("request", name)],
        }
        messages[reply_name] = {
            "name": reply_name,
            "title": f"{name} reply",
            "payload": schema_of[("reply", name)],
        }
        channel, reply_channel = _camel("query", name), _camel("query", name, "replies")
        channels[channel] = _channel(
            query_subject(_T, name),
            f"The `{name}` query (core NATS request/reply).",
            {request_name: request_name},
            {"tenant": _TENANT},
        )
        channels[reply_channel] = _channel(
            None,
            f"Replies to `{name}`, sent to the requester's inbox.",
            {reply_name: reply_name, "queryError": "queryError"},
        )
        operations[_camel("answer", name)] = _operation(
            "receive",
            channel,
            [request_name],
            f"Answer `{name}`.",
            reply={
                "channel": _ref(f"#/channels/{reply_channel}"),
                "messages": [
                    _ref(f"#/channels/{reply_channel}/messages/{m}")
                    for m in (reply_name, "queryError")
                ],
            },
        )

    _watch_channels(schema_of, messages, channels, operations)

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "ONE Bus",
            "version": version,
            "description": "The ONE ontology on NATS: ingest on JetStream, stored in MongoDB,"
            " changes and dead letters republished, lookups by request/reply.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "localhost:4222",
                "protocol": "nats",
                "description": "`one-bus dev`",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def _outcomes(
    schema_of: dict[tuple[str, str], dict[str, Any]],
    messages: dict[str, Any],
    channels: dict[str, Any],
) -> list[str]:
    """Write outcomes (docs/outcomes.md): the answers at a publisher's `One-Outcome-To`
    inbox; returns their message names."""
    names = []
    for status, model in OUTCOME_MODELS.items():
        name = _camel("outcome", status)
        messages[name] = {
            "name": name,
            "title": f"Outcome: {status}",
            "summary": (model.__doc__ or name).strip().splitlines()[0],
            "payload": schema_of[("outcome", status)],
        }
        names.append(name)
    channels["outcomes"] = _channel(
        None,
        "A write's `One-Outcome-To` inbox: one answer per write that asked, published with"
        " core NATS after the write is acked (stored) or dead-lettered, at most once;"
        " `status` tells the kind.",
        {name: name for name in names},
    )
    return names


def _watch_channels(
    schema_of: dict[tuple[str, str], dict[str, Any]],
    messages: dict[str, Any],
    channels: dict[str, Any],
    operations: dict[str, Any],
) -> None:
    """Live queries (docs/watch.md): watch, renew and stop by request/reply, and the pushes
    on the requester's own `deliverTo` subject."""
    for reply, data in _WATCH_REPLIES.items():
        name = _camel("watch", reply)
        messages[name] = {
            "name": name,
            "title": f"Watch {reply}",
            "summary": (data.__doc__ or name).strip().splitlines()[0],
            "payload": schema_of[("watchReply", reply)],
        }
    messages["watchControl"] = {
        "name": "watchControl",
        "title": "Watch renew or stop",
        "payload": schema_of[("watchControl", "control")],
    }
    for query in WATCH_MODELS:
        started, push = _camel("watch", "started", query), _camel("watch", "push", query)
        messages[started] = {
            "name": started,
            "title": f"Watch {query} started",
            "summary": (WatchStarted.__doc__ or started).strip().splitlines()[0],
            "payload": schema_of[("watchStarted", query)],
        }
        messages[push] = {
            "name": push,
            "title": f"Watch {query} push",
            "summary": (WatchPush.__doc__ or push).strip().splitlines()[0],
            "payload": schema_of[("watchPushOf", query)],
        }
    messages["watchEnded"] = {
        "name": "watchEnded",
        "title": "Watch ended",
        "summary": (WatchEnded.__doc__ or "watchEnded").strip().splitlines()[0],
        "payload": schema_of[("watchEnded", "ended")],
    }
    requests = [
        (query, _camel("watch", query, "request"), _camel("watch", "started", query))
        for query in WATCH_MODELS
    ]
    requests += [
        ("renew", "watchControl", "watchRenewed"),
        ("stop", "watchControl", "watchStopped"),
    ]
    for target, request_name, reply_name in requests:
        if target in WATCH_MODELS:
            messages[request_name] = {
                "name": request_name,
                "title": f"watch {target} request",
                "summary": f"Watch `{target}`: its request plus `deliverTo`.",
                "payload": schema_of[("watchRequest", target)],
            }
        channel, reply_channel = _camel("watch", target), _camel("watch", target, "replies")
        channels[channel] = _channel(
            watch_subject(_T, target),
            f"`watch.{target}` (core NATS request/reply).",
            {request_name: request_name},
            {"tenant": _TENANT},
        )
        channels[reply_channel] = _channel(
            None,
            f"Replies to `watch.{target}`, sent to the requester's inbox.",
            {reply_name: reply_name, "queryError": "queryError"},
        )
        operations[_camel("answer", "watch", target)] = _operation(
            "receive",
            channel,
            [request_name],
            f"Answer `watch.{target}`.",
            reply={
                "channel": _ref(f"#/channels/{reply_channel}"),
                "messages": [
                    _ref(f"#/channels/{reply_channel}/messages/{m}")
                    for m in (reply_name, "queryError")
                ],
            },
        )
    pushes = [_camel("watch", "push", query) for query in WATCH_MODELS] + ["watchEnded"]
    channels["watchPushes"] = _channel(
        None,
        "A watch's `deliverTo` subject: each new result (its `result` as the watched query"
        " answers it), then a last `ended` message.",
        {name: name for name in pushes},
    )
    operations["sendWatchPushes"] = _operation(
        "send", "watchPushes", pushes, "Each new result of a watch."
    )

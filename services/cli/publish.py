"""`one-bus publish SUBJECT [PAYLOAD]`: publish one record, command, event or protocol message.

The payload is JSON from the argument, or from stdin when it is `-` or left out. Payloads
of the ontology's subjects are checked against the contracts before they are sent (turn
that off with `--no-validate`, e.g. to see what the service dead-letters).
"""

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from contracts.commands import COMMAND_MODELS
from contracts.protocols.envelope import HEADER_RECORD_ID, EnvelopeError, ProtocolEnvelope
from contracts.subjects import PREFIX, SubjectError, parse_ingest_subject
from one_bus.client import OneClient, Published
from one_bus.ids import new_id
from services.cli.connect import Credentials, NatsUrl, Tenant, default_tenant, fail, run
from services.cli.output import print_json, say

out = Console(soft_wrap=True)  # an ack line is never broken inside an id


def parse_headers(values: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        name, colon, text = value.partition(":")
        if not colon or not name.strip():
            fail(f"header {value!r} is not Name:Value", 2)
        headers[name.strip()] = text.strip()
    return headers


def default_msg_id(kind: str, op: str | None, payload: Any) -> str:
    """The record id for events and connection creates (a republish is then a duplicate),
    a new UUIDv7 for commands (two updates of one entity are two messages)."""
    record_id = payload.get("id") if isinstance(payload, dict) else None
    if isinstance(record_id, str) and (kind == "events" or (kind, op) == ("connections", "create")):
        return record_id
    return new_id()


def check(subject: str, payload: Any, headers: dict[str, str]) -> str:
    """Validate against the contracts; returns the `Nats-Msg-Id` to use. Exits 2 if invalid."""
    try:
        parsed = parse_ingest_subject(subject)
    except SubjectError as error:
        fail(str(error), 2)
    given = next((v for k, v in headers.items() if k.lower() == HEADER_RECORD_ID.lower()), None)
    if parsed.kind == "protocols":
        msg_id = given or new_id()
        try:
            ProtocolEnvelope.from_headers({**headers, HEADER_RECORD_ID: msg_id})
        except EnvelopeError as error:
            fail(f"protocol message headers: {error}", 2)
        return msg_id
    model = COMMAND_MODELS[(parsed.kind, None if parsed.kind == "events" else parsed.op)]
    try:
        model.model_validate(payload)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<payload>'}: {e['msg']}"
            for e in error.errors()
        )
        fail(f"invalid {model.__name__}: {problems}", 2)
    return given or default_msg_id(parsed.kind, parsed.op, payload)


def read_payload(payload: str | None) -> str:
    if payload is None or payload == "-":
        return sys.stdin.read()
    if payload.startswith("@"):
        return Path(payload[1:]).read_text()
    return payload


def publish(
    subject: Annotated[
        str, typer.Argument(help="`entities.creator.upsert` (under --tenant) or a full subject.")
    ],
    payload: Annotated[
        str | None,
        typer.Argument(help="JSON payload, `@file.json`, or `-`/nothing for stdin."),
    ] = None,
    header: Annotated[
        list[str] | None, typer.Option("--header", "-H", help="A header, Name:Value (repeat).")
    ] = None,
    validate: Annotated[
        bool, typer.Option(help="Check the payload against the contracts before sending.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the ack as JSON.")] = False,
    tenant: Tenant = "",
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """Publish one message on JetStream and print its ack (stream and sequence)."""
    tenant = default_tenant(tenant, nats_url, credentials)
    if not tenant and not subject.startswith(PREFIX + "."):
        fail(
            "give --tenant (or ONE_TENANT), credentials that name a tenant, or a full "
            "one.v1.<tenant>... subject",
            2,
        )
    if payload in (None, "-") and sys.stdin.isatty():
        say("reading the payload from stdin: type or paste it, then Ctrl-D")
    full = subject if subject.startswith(PREFIX + ".") else f"{PREFIX}.{tenant}.{subject}"
    tenant = full.split(".")[2]
    text = read_payload(payload)
    headers = parse_headers(header or [])
    try:
        document = json.loads(text)
    except ValueError as error:
        if validate:
            fail(f"payload is not JSON: {error}", 2)
        document = None
    msg_id = check(full, document, headers) if validate else None

    async def work(client: OneClient) -> Published:
        return await client.publish_raw(full, text.encode(), headers, msg_id=msg_id)

    ack = run(tenant, nats_url, credentials, work)
    if as_json:
        print_json(
            {
                "subject": ack.subject,
                "msgId": ack.msg_id,
                "stream": ack.stream,
                "seq": ack.seq,
                "duplicate": ack.duplicate,
            },
            compact=True,
        )
        return
    what = "duplicate of" if ack.duplicate else "stored as"
    out.print(f"{ack.subject}: {what} {ack.stream} #{ack.seq} (Nats-Msg-Id {ack.msg_id})")

"""`one-bus publish SUBJECT [PAYLOAD]`: publish one record, command, event or protocol message.

The payload is JSON from the argument, or from stdin when it is `-` or left out. Payloads
of the ontology's subjects are checked against the contracts before they are sent (turn
that off with `--no-validate`, e.g. to see what the service dead-letters).

With `--wait` (the default at a terminal) it waits for ingest's outcome and tells "stored"
(and what it did to each record) from "rejected: <reason>"; with `--no-wait` (the default
in a pipe or script) it says the message is in the stream, not yet that it is stored.

| exit | meaning |
|---|---|
| 0 | stored (or, with `--no-wait`, in the stream; a duplicate of one in the stream) |
| 1 | cannot connect, or the stream did not acknowledge it |
| 2 | not sent: the payload, subject or headers are invalid |
| 3 | rejected: ingest dead-lettered it (the reason on stderr) |
| 4 | in the stream, but no outcome came in time (check with `query --after SEQ`) |
"""

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from pydantic import ValidationError
from rich.console import Console

from contracts.command_kinds import record_msg_id, subject_command_kind
from contracts.outcomes import Rejected, Stored
from contracts.protocols.envelope import HEADER_RECORD_ID, EnvelopeError, ProtocolEnvelope
from contracts.subjects import SubjectError, is_qualified, parse_ingest_subject, qualified
from one_bus.client import OneClient
from one_bus.errors import OutcomeTimeoutError
from one_bus.ids import new_id
from one_bus.outcomes import Published
from services.cli.connect import Credentials, NatsUrl, Tenant, fail, run
from services.cli.output import print_json, say

out = Console(soft_wrap=True)  # an ack line is never broken inside an id
err = Console(stderr=True)

EXIT_REJECTED: Final = 3
EXIT_NO_OUTCOME: Final = 4


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
    return record_msg_id(kind, op, payload) or new_id()


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
    model = subject_command_kind(parsed.kind, parsed.op).model
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
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the ack (and outcome) as JSON.")
    ] = False,
    wait: Annotated[
        bool | None,
        typer.Option(
            "--wait/--no-wait",
            help="Wait for ingest's outcome: stored, or rejected with the reason "
            "(default: at a terminal).",
            show_default=False,
        ),
    ] = None,
    tenant: Tenant = "",
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """Publish one message on JetStream; say whether it was stored (or is in the stream)."""
    if not tenant and not is_qualified(subject):
        fail(
            "give --tenant (or ONE_TENANT), credentials that name a tenant, or a full "
            "one.v1.<tenant>... subject",
            2,
        )
    if payload in (None, "-") and sys.stdin.isatty():
        say("reading the payload from stdin: type or paste it, then Ctrl-D")
    full = qualified(tenant, subject)
    # The client is the identity's tenant; a full subject of another tenant is published
    # as it is, for the server to refuse (or an operator to be allowed).
    tenant = tenant or full.split(".")[2]
    text = read_payload(payload)
    headers = parse_headers(header or [])
    try:
        document = json.loads(text)
    except ValueError as error:
        if validate:
            fail(f"payload is not JSON: {error}", 2)
        document = None
    msg_id = check(full, document, headers) if validate else None
    waiting = sys.stdout.isatty() if wait is None else wait

    async def work(client: OneClient) -> tuple[Published, Stored | Rejected | None]:
        if not waiting:
            return await client.publish_raw(full, text.encode(), headers, msg_id=msg_id), None
        pending = await client.submit_raw(full, text.encode(), headers, msg_id=msg_id)
        try:
            return pending.published, await pending.wait(client.outcome_timeout_s)
        except OutcomeTimeoutError:
            return pending.published, None

    ack, outcome = run(tenant, nats_url, credentials, work)
    status = "in_stream" if not waiting else "no_outcome" if outcome is None else outcome.status
    if as_json:
        print_json(
            {
                "subject": ack.subject,
                "msgId": ack.msg_id,
                "stream": ack.stream,
                "seq": ack.seq,
                "duplicate": ack.duplicate,
                "status": status,
                "outcome": outcome.model_dump(mode="json") if outcome is not None else None,
            },
            compact=True,
        )
    else:
        report(ack, outcome, waiting)
    if isinstance(outcome, Rejected):
        raise typer.Exit(EXIT_REJECTED)
    if waiting and outcome is None:
        raise typer.Exit(EXIT_NO_OUTCOME)


def report(ack: Published, outcome: Stored | Rejected | None, waited: bool) -> None:
    where = f"{ack.stream} #{ack.seq}"
    ident = f"(Nats-Msg-Id {ack.msg_id})"
    if isinstance(outcome, Rejected):
        err.print(
            f"{ack.subject}: [red]rejected: {outcome.code}[/]: {outcome.message} "
            f"({where}, dead-lettered: `one-bus dlq list`)",
            highlight=False,
        )
    elif isinstance(outcome, Stored) and outcome.duplicate:
        out.print(f"{ack.subject}: duplicate of {where}, already in the stream {ident}")
    elif isinstance(outcome, Stored):
        what = ", ".join(f"{r.collection} {r.id} {r.effect}" for r in outcome.records)
        out.print(f"{ack.subject}: [green]stored[/] as {where}: {what or 'no record'} {ident}")
    elif waited:
        err.print(
            f"{ack.subject}: in the stream as {where} {ident}, but no outcome came in time: "
            f"see `one-bus query ... --after {ack.seq}` or `one-bus dlq list`",
            highlight=False,
        )
    else:
        what = "duplicate of" if ack.duplicate else "in the stream as"
        out.print(f"{ack.subject}: {what} {where} {ident}; not waiting for it to be stored")

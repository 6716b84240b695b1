"""`one-bus req SUBJECT [BODY]`: one raw NATS request, its reply printed.

For what has no command of its own: `$SRV.PING`, `$SRV.INFO` and `$SRV.STATS` (the
services' discovery and statistics), a query subject by hand, anything else. The subject
is used as given. A JSON reply is printed as JSON (whole in a pipe), any other as it
came; `-H` prints the reply's headers first (`Name: value` lines, then a blank line),
`--json` one object `{"subject", "headers", "data"}`. Exit codes: 0 a reply, 1 no
responder, 4 no reply within `--timeout`, 77 not allowed.
"""

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from one_bus.client import OneClient
from services.cli.connect import (
    ANY_TENANT,
    DEFAULT_REQUEST_TIMEOUT_S,
    CliError,
    Credentials,
    NatsUrl,
    Timeout,
    run,
)
from services.cli.output import print_json


def _body(body: str | None) -> bytes:
    if body == "-":
        return sys.stdin.buffer.read()
    if body is not None and body.startswith("@"):
        return Path(body[1:]).read_bytes()
    return (body or "").encode()


def _data(msg: Msg) -> Any:
    try:
        return json.loads(msg.data)
    except ValueError:
        return msg.data.decode("utf-8", errors="replace")


def req(
    subject: Annotated[str, typer.Argument(help="The subject, as it is: $SRV.INFO, one.v1...")],
    body: Annotated[
        str | None,
        typer.Argument(
            help="The request body: text or JSON, `@file`, `-` for stdin; default empty."
        ),
    ] = None,
    headers: Annotated[
        bool, typer.Option("--headers", "-H", help="Print the reply's headers too.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help='One {"subject", "headers", "data"} object.')
    ] = False,
    timeout: Timeout = DEFAULT_REQUEST_TIMEOUT_S,
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """Send one NATS request and print the reply."""
    data = _body(body)

    async def work(client: OneClient) -> Msg:
        try:
            return await client.nats.request(subject, data, timeout=timeout)
        except NoRespondersError as error:
            raise CliError(f"no responders on {subject}", 1) from error
        except NatsTimeoutError as error:
            raise CliError(f"no reply on {subject} within {timeout:g} s", 4) from error

    reply = run(ANY_TENANT, nats_url, credentials, work, request_timeout_s=timeout)
    if as_json:
        print_json(
            {"subject": subject, "headers": reply.headers or {}, "data": _data(reply)},
            compact=True,
        )
        return
    if headers:
        for name, value in (reply.headers or {}).items():
            sys.stdout.write(f"{name}: {value}\n")
        sys.stdout.write("\n")
    parsed = _data(reply)
    if isinstance(parsed, str):
        sys.stdout.write(parsed + ("" if parsed.endswith("\n") else "\n"))
    else:
        print_json(parsed)

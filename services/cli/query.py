"""`one-bus query NAME [JSON]`: run one query and print its reply's `data` as JSON.

The exit code says how it went, so scripts can branch on it:

| exit | meaning |
|---|---|
| 0 | ok: `data` on stdout |
| 1 | cannot connect, or no query responder is running |
| 2 | `invalid_request` (also: the request given is not JSON) |
| 3 | `not_found` |
| 4 | `timeout` (the service's deadline, or no reply within `--timeout`) |
| 5 | `internal` |
| 6 | `limit_exceeded` (too many watches) |
| 77 | not allowed: this identity may not publish or subscribe to a subject it needs |

On an error the reply's `error` object (`code`, `message`, `details`) goes to stderr.
"""

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Annotated, Any, Final

import typer

from contracts.errors import ErrorCode
from one_bus.client import OneClient
from one_bus.errors import QueryError, QueryUnavailableError
from services.cli.connect import (
    DEFAULT_REQUEST_TIMEOUT_S,
    CliError,
    Credentials,
    NatsUrl,
    Tenant,
    Timeout,
    fail,
    run,
)
from services.cli.output import print_json

EXIT_CODES: Final[dict[ErrorCode, int]] = {
    "invalid_request": 2,
    "not_found": 3,
    "timeout": 4,
    "internal": 5,
    "limit_exceeded": 6,
}


@contextlib.contextmanager
def query_errors(*, compact: bool) -> Iterator[None]:
    """A failed query as the CLI reports it: the error object on stderr, the exit code
    of the table above."""
    try:
        yield
    except QueryUnavailableError as error:
        raise CliError(str(error), 1) from error
    except QueryError as error:
        print_json(
            {"code": error.code, "message": error.message, "details": error.details},
            compact=compact,
            to_stderr=True,
        )
        raise CliError(f"{error.code}: {error.message}", EXIT_CODES[error.code]) from error


After = Annotated[
    int | None,
    typer.Option(
        "--after",
        min=1,
        help="Read-your-writes: answer once ingest is done with every write up to this "
        "ingest stream sequence (what `publish` printed as #SEQ).",
    ),
]


def with_after(body: dict[str, Any], after: int | None) -> dict[str, Any]:
    return body if after is None else {**body, "after": after}


def parse_request(request: str | None) -> dict[str, Any]:
    """The request argument as a JSON object (`-`: stdin; none: `{}`), or exit 2."""
    text = sys.stdin.read() if request == "-" else (request or "{}")
    try:
        body = json.loads(text)
    except ValueError as error:
        fail(f"the request is not JSON: {error}", 2)
    if not isinstance(body, dict):
        fail("the request must be a JSON object", 2)
    return body


def query(
    name: Annotated[str, typer.Argument(help="The query, e.g. entities.get or events.list.")],
    tenant: Tenant = "",
    request: Annotated[
        str | None, typer.Argument(help="The request as JSON; `-` for stdin; default {}.")
    ] = None,
    all_pages: Annotated[
        bool,
        typer.Option("--all", help="Follow nextCursor and print every page's items as one list."),
    ] = False,
    compact: Annotated[bool, typer.Option(help="One line of JSON, not indented.")] = False,
    after: After = None,
    timeout: Timeout = DEFAULT_REQUEST_TIMEOUT_S,
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """Run a query (request/reply) and print the reply's data."""
    body = with_after(parse_request(request), after)

    async def work(client: OneClient) -> Any:
        with query_errors(compact=compact):
            if not all_pages:
                return await client.query(name, body)
            collected: list[Any] = []
            page: dict[str, Any] = {**body}
            while True:
                data = await client.query(name, page)
                if not isinstance(data, dict) or "nextCursor" not in data:
                    return data  # not a paged query: its one reply is all there is
                collected.extend(data["items"])
                if not data.get("nextCursor"):
                    return {"items": collected, "nextCursor": None}
                page = {**body, "cursor": data["nextCursor"]}

    data = run(tenant, nats_url, credentials, work, request_timeout_s=timeout)
    print_json(data, compact=compact)

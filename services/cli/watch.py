"""`one-bus watch NAME [JSON]`: a live query; prints its result, then each new one.

Each result is marked with its version and the time it arrived: at a terminal a line on
stderr before it (stdout holds only the results, one JSON document each), with `--json`
one object per line, `{"version", "time", "result"}`. A result that became `null` (an
entity deleted, say) is said as such, not left a bare `null`.

Exit codes as `one-bus query` (services/cli/query.py); Ctrl-C stops the watch and exits 0.
"""

import contextlib
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from one_bus.client import OneClient
from services.cli.connect import (
    DEFAULT_REQUEST_TIMEOUT_S,
    Credentials,
    NatsUrl,
    Tenant,
    Timeout,
    run,
)
from services.cli.output import print_json, say
from services.cli.query import After, parse_request, query_errors, with_after


def marker(version: int, at: datetime, result: Any, had_result: bool) -> str:
    """The line said before a result: its version, when it came, and what a `null` means."""
    line = f"--- version {version} at {at.astimezone().strftime('%H:%M:%S.%f')[:-3]}"
    if result is None:
        line += ": gone (deleted, or no longer matching)" if had_result else ": nothing found"
    return line


def watch(
    name: Annotated[str, typer.Argument(help="The query to watch, e.g. entities.list.")],
    tenant: Tenant = "",
    request: Annotated[
        str | None, typer.Argument(help="The request as JSON; `-` for stdin; default {}.")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="Stop after this many results.", show_default=False),
    ] = None,
    compact: Annotated[bool, typer.Option(help="One line of JSON per result.")] = False,
    after: After = None,
    as_json: Annotated[
        bool, typer.Option("--json", help='One {"version", "time", "result"} object per line.')
    ] = False,
    timeout: Timeout = DEFAULT_REQUEST_TIMEOUT_S,
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """Watch a query: print its result now and each time the stored data changes it."""
    body = with_after(parse_request(request), after)

    async def work(client: OneClient) -> None:
        shown = 0
        had_result = False
        with query_errors(compact=compact or as_json):
            async with client.watch(name, body) as results:
                async for result in results:
                    at = datetime.now(UTC)
                    if as_json:
                        record = {
                            "version": results.version,
                            "time": at.isoformat(),
                            "result": result,
                        }
                        print_json(record, compact=True)
                    else:
                        say(marker(results.version, at, result, had_result))
                        print_json(result, compact=compact)
                    sys.stdout.flush()
                    had_result = had_result or result is not None
                    shown += 1
                    if limit is not None and shown >= limit:
                        return
                if results.ended_reason not in (None, "stopped"):
                    say(f"the watch ended: {results.ended_reason}")

    with contextlib.suppress(KeyboardInterrupt):
        run(tenant, nats_url, credentials, work, request_timeout_s=timeout)

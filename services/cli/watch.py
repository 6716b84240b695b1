"""`one-bus watch NAME [JSON]`: a live query; prints its result, then each new one.

Exit codes as `one-bus query` (services/cli/query.py); Ctrl-C stops the watch and exits 0.
"""

import contextlib
import sys
from typing import Annotated

import typer

from one_bus.client import OneClient
from services.cli.connect import Credentials, NatsUrl, Tenant, run
from services.cli.output import err, print_json
from services.cli.query import parse_request, query_errors


def watch(
    name: Annotated[str, typer.Argument(help="The query to watch, e.g. entities.list.")],
    tenant: Tenant = "",
    request: Annotated[
        str | None, typer.Argument(help="The request as JSON; `-` for stdin; default {}.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Stop after this many results.")
    ] = None,
    compact: Annotated[bool, typer.Option(help="One line of JSON per result.")] = False,
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """Watch a query: print its result now and each time the stored data changes it."""
    body = parse_request(request)

    async def work(client: OneClient) -> None:
        shown = 0
        with query_errors(compact=compact):
            async with client.watch(name, body) as results:
                async for result in results:
                    print_json(result, compact=compact)
                    sys.stdout.flush()
                    shown += 1
                    if limit is not None and shown >= limit:
                        return
                if results.ended_reason not in (None, "stopped"):
                    err.print(f"the watch ended: {results.ended_reason}", highlight=False)

    with contextlib.suppress(KeyboardInterrupt):
        run(tenant, nats_url, credentials, work)

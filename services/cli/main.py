"""`one-bus`: run the service, run it on embedded servers, export schemas."""

import asyncio
import json
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from contracts.asyncapi import asyncapi_document
from contracts.json_schemas import message_schemas
from services.cli import console as console_command
from services.cli import (
    dlq,
    help_text,
    importer,
    publish,
    query,
    req,
    security,
    status,
    tail,
    tenant,
    watch,
)
from services.cli.version import installed_version, version_option
from services.console import DEFAULT_PORT
from services.runtime import event_loop
from services.runtime.logs import configure_logging
from services.runtime.runner import run_until_stopped
from services.runtime.service import OneBusService
from services.runtime.streams import LayoutMismatchError
from services.settings import Settings
from services.tracing import configure_tracing

app = typer.Typer(
    help="ONE Bus: the ONE ontology on NATS, persisted in MongoDB.", no_args_is_help=True
)
schema_app = typer.Typer(
    help="JSON Schema for every message kind, and an AsyncAPI document.", no_args_is_help=True
)
app.add_typer(schema_app, name="schema")
app.add_typer(dlq.app, name="dlq")
app.add_typer(tenant.app, name="tenant")
app.add_typer(security.app, name="security")
app.callback()(version_option)
app.command()(publish.publish)
app.command()(query.query)
app.command()(tail.tail)
app.command()(watch.watch)
app.command("import")(importer.import_)
app.command()(status.status)
app.command()(req.req)
app.command("console")(console_command.console)
# soft_wrap: a URL, a URI or a command in the banner is never broken across lines.
console = Console(stderr=True, soft_wrap=True)

if TYPE_CHECKING:
    from services.console.server import ConsoleServer


def _observability(level: str, settings: Settings) -> None:
    configure_logging(level, settings.log_format)
    configure_tracing()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


@app.command()
def serve(
    log_level: Annotated[str, typer.Option(help="Python logging level.")] = "info",
    ingest: Annotated[bool, typer.Option(help="Run ingest (off: a query-only replica).")] = True,
    query: Annotated[bool, typer.Option(help="Run query (off: an ingest-only replica).")] = True,
) -> None:
    """Run ingest and query against the servers named by ONE_NATS_URL and ONE_MONGODB_URI."""
    settings = Settings()
    _observability(log_level, settings)

    async def run() -> None:
        await run_until_stopped(settings, _stop_on_signals(), ingest=ingest, query=query)

    try:
        event_loop.run(run(), settings.event_loop)
    except LayoutMismatchError as error:
        console.print(f"[red]error:[/] {error}", highlight=False)
        raise typer.Exit(2) from error


@app.command()
def dev(
    nats_port: Annotated[int, typer.Option(help="Port for the embedded nats-server.")] = 4222,
    mongo_port: Annotated[int, typer.Option(help="Port for the embedded SecantusDB.")] = 27017,
    data_dir: Annotated[Path, typer.Option(help="Where both servers keep their data.")] = Path(
        ".one-data"
    ),
    log_level: Annotated[str, typer.Option(help="Python logging level.")] = "info",
    secure: Annotated[
        bool, typer.Option(help="Authentication, per-role permissions and TLS on both servers.")
    ] = False,
    web_console: Annotated[
        bool, typer.Option("--console/--no-console", help="Serve the web console beside them.")
    ] = True,
    console_port: Annotated[int, typer.Option(help="The web console's port.")] = DEFAULT_PORT,
    console_tenant: Annotated[
        str, typer.Option(envvar="ONE_TENANT", help="The tenant the web console shows.")
    ] = "dev",
) -> None:
    """Run the whole system on embedded real servers: nats-server and SecantusDB."""
    from services.runtime.embedded import EmbeddedServerError, EmbeddedServers  # [embedded]

    defaults = Settings()
    _observability(log_level, defaults)

    async def run() -> None:
        stop = _stop_on_signals()
        if secure:
            from services.cli.secure_dev import run_secure_dev

            await run_secure_dev(data_dir.resolve(), nats_port, mongo_port, stop)
            return
        async with EmbeddedServers(data_dir, nats_port=nats_port, mongo_port=mongo_port) as servers:
            settings = Settings(
                nats_url=servers.nats_url,
                mongodb_uri=servers.mongodb_uri,
                nats_anonymous_warning=False,  # the banner says it is open, and why
            )
            web: list[ConsoleServer] = []

            def announce(_: OneBusService) -> None:
                console.print(f"[bold green]ONE Bus is up[/] (data in {data_dir.resolve()})")
                console.print(f"  NATS     {servers.nats_url}")
                console.print(f"  MongoDB  {servers.mongodb_uri}  database {settings.mongodb_db!r}")
                console.print(
                    "  [yellow]Open: no authentication, no TLS (on 127.0.0.1 only); "
                    "`one-bus dev --secure` turns them on.[/]"
                )
                if web:
                    console_command.announce(web[0], console_tenant)
                console.print("  Ctrl-C stops everything.")

            supervisor = asyncio.create_task(servers.supervise(), name="one-bus-supervisor")
            try:
                async with console_command.dev_console(
                    web_console, servers.nats_url, console_tenant, console_port, settings
                ) as served:
                    web.extend([served] if served else [])
                    await run_until_stopped(settings, stop, on_running=announce)
            finally:
                supervisor.cancel()
        console.print("stopped", highlight=False)

    try:
        event_loop.run(run(), defaults.event_loop)
    except EmbeddedServerError as error:
        typer.echo(f"one-bus dev: {error}", err=True)  # one line, unwrapped
        raise typer.Exit(1) from None


@schema_app.command("export")
def schema_export(
    directory: Annotated[Path, typer.Argument(help="Directory to write *.schema.json into.")],
) -> None:
    """Write JSON Schema for every payload, record, change and query, and asyncapi.json."""
    directory.mkdir(parents=True, exist_ok=True)
    schemas = message_schemas()
    for name, schema in schemas.items():
        (directory / f"{name}.schema.json").write_text(json.dumps(schema, indent=2) + "\n")
    document = asyncapi_document(installed_version())
    (directory / "asyncapi.json").write_text(json.dumps(document, indent=2) + "\n")
    console.print(f"wrote {len(schemas)} schemas and asyncapi.json to {directory}")


# Last: every command is registered by now, sub-apps included.
help_text.apply(app)

"""`one-bus console`: the web console for one tenant, with the identity it is given."""

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

import typer
from nats.errors import Error as NatsError
from rich.console import Console

from contracts.connection_spec import ConnectionSpec
from services.cli.connect import CliError, Credentials, NatsUrl, connection_spec, fail
from services.console import DEFAULT_HOST, DEFAULT_PORT
from services.settings import Settings

if TYPE_CHECKING:  # the web server is the optional extra `one-bus[console]`
    from services.console.server import ConsoleServer

err = Console(stderr=True)


def announce(server: "ConsoleServer", tenant: str) -> None:
    """The console's banner line(s): where it is, and the login token when it needs one."""
    err.print(f"  Console  {server.url}  (tenant {tenant!r})", highlight=False)
    if server.token is not None:
        err.print(f"  Console login token: {server.token}", highlight=False)


def console(
    port: Annotated[int, typer.Option(min=0, max=65535, help="The console's HTTP port.")] = (
        DEFAULT_PORT
    ),
    host: Annotated[
        str,
        typer.Option(help="Interface to bind; beyond 127.0.0.1 a login token is required."),
    ] = DEFAULT_HOST,
    tenant: Annotated[
        str | None,
        typer.Option(
            "--tenant", "-t", envvar="ONE_TENANT", help="Whose records (default: the spec's)."
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="ONE_CONSOLE_TOKEN", help="The login token when bound beyond 127.0.0.1."
        ),
    ] = None,
    nats_url: NatsUrl = None,
    credentials: Credentials = None,
) -> None:
    """Serve the web console: records and their graph, live changes, dead letters, health."""
    try:
        spec = connection_spec(nats_url, credentials)
    except CliError as error:
        fail(str(error), error.exit_code)
    chosen = tenant or spec.tenant
    if not chosen:
        fail("name the tenant: --tenant NAME (or use a tenant's credentials file)")

    server_module = _server_module()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            bus = await server_module.ConsoleBus(spec, chosen, Settings()).start()
        except ValueError as error:
            raise CliError(str(error)) from error
        except (OSError, TimeoutError, NatsError) as error:
            why = "no connection within 10 s" if isinstance(error, TimeoutError) else str(error)
            raise CliError(f"cannot connect to NATS at {', '.join(spec.servers)}: {why}") from (
                error
            )
        try:
            server = server_module.ConsoleServer(bus, host=host, port=port, token=token)
            try:
                await server.start()
            except OSError as error:
                why = error.strerror or str(error)
                raise CliError(f"cannot serve the console on {host}:{port}: {why}") from error
            err.print("[bold green]ONE Bus console is up[/]")
            announce(server, chosen)
            err.print("  Ctrl-C stops it.")
            await stop.wait()
            await server.stop()
        finally:
            await bus.close()

    try:
        asyncio.run(main())
    except CliError as error:
        fail(str(error), error.exit_code)


@contextlib.asynccontextmanager
async def dev_console(
    enabled: bool, nats_url: str, tenant: str, port: int, settings: Settings
) -> AsyncIterator["ConsoleServer | None"]:
    """`one-bus dev`'s console on 127.0.0.1 (open, like its servers); a port in use is
    one line, and dev runs on without it."""
    if not enabled:
        yield None
        return
    spec = ConnectionSpec(servers=[nats_url], tenant=tenant)
    try:
        context = _server_module().running_console(spec, tenant, port=port, settings=settings)
        server = await context.__aenter__()
    except OSError as error:
        err.print(f"[yellow]no web console: port {port}: {error.strerror or error}[/]")
        yield None
        return
    try:
        yield server
    finally:
        await context.__aexit__(None, None, None)


def _server_module() -> Any:
    try:
        from services.console import server
    except ImportError as error:
        fail(f"the web console needs the extra `one-bus[console]` ({error.name} is missing)")
    return server

"""`one-bus tenant add | list | remove`: a tenant's NATS identities in the secure layout.

They change the data directory of `one-bus dev --secure` (services/security/layout.py) and
reload its running nats-server: a new tenant can connect, and a removed one is
disconnected, by the time the command returns.
"""

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from services.security.applied import users_applied
from services.security.identities import TenantError
from services.security.layout import SecureLayout
from services.security.secure_dev import declare_missing_tenant_streams
from services.settings import Settings

app = typer.Typer(help="Tenants' NATS identities (secure layout).", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True)

DataDir = Annotated[Path, typer.Option(help="The data directory of `one-bus dev --secure`.")]


def _await_reload(layout: SecureLayout) -> None:
    """Return once the running nats-server (if any) has loaded the new users."""
    if not layout.running():
        err.print(
            "no nats-server of this layout runs here: reload yours to apply it "
            "(nats-server --signal reload, or SIGHUP; it applies at its next start anyway)"
        )
        return
    if not asyncio.run(users_applied(layout)):
        err.print("[yellow]warning:[/] the running nats-server has not reloaded its users")


def _fail(error: Exception) -> typer.Exit:
    err.print(f"[red]error:[/] {error}")
    return typer.Exit(1)


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="The tenant: one token of [A-Za-z0-9_-].")],
    data_dir: DataDir = Path(".one-data"),
) -> None:
    """Create a tenant's publisher and subscriber identities; print them as JSON (once)."""
    layout = SecureLayout(data_dir)
    try:
        created = layout.add_tenant(name)
    except TenantError as error:
        raise _fail(error) from error
    _await_reload(layout)
    if layout.running():
        # The secure layout is the per-tenant one: the tenant's input needs its stream.
        asyncio.run(declare_missing_tenant_streams(layout, Settings(ingest_layout="per_tenant")))
    # Plain print: the passwords are shown this once, and must not be reflowed.
    print(json.dumps(created))


@app.command("list")
def list_(data_dir: DataDir = Path(".one-data")) -> None:
    """The tenants that have identities."""
    for tenant in SecureLayout(data_dir).tenants():
        out.print(tenant)


@app.command()
def remove(
    name: Annotated[str, typer.Argument(help="The tenant to revoke.")],
    data_dir: DataDir = Path(".one-data"),
) -> None:
    """Delete a tenant's identities: the server disconnects them and refuses them from now."""
    layout = SecureLayout(data_dir)
    try:
        layout.remove_tenant(name)
    except TenantError as error:
        raise _fail(error) from error
    _await_reload(layout)
    out.print(f"removed tenant {name}")

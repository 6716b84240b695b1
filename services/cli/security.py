"""`one-bus security init`: the secure layout for servers `one-bus dev` does not run
(docker-compose, Kubernetes): users, permissions, certificates and secrets as files."""

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.console import Console

from services.security.deploy_files import write_mongo_files
from services.security.layout import SecureLayout
from services.security.roles import SERVICE_ROLES

app = typer.Typer(help="Secure layout for deployments.", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)


@app.command()
def init(
    nats_url: Annotated[
        str, typer.Option(help="The URL clients use for NATS, e.g. tls://nats:4222.")
    ],
    data_dir: Annotated[Path, typer.Option(help="Where to write the layout.")] = Path(".one-data"),
    host: Annotated[
        list[str] | None,
        typer.Option(help="A name the servers' certificate must carry (repeat it)."),
    ] = None,
    mongodb_db: Annotated[str, typer.Option(help="The service's database.")] = "one",
) -> None:
    """Write (or complete) the secure layout; existing secrets and certificates are kept."""
    url = urlsplit(nats_url)
    if url.scheme not in ("tls", "nats") or not url.hostname:
        raise typer.BadParameter("expected tls://HOST:PORT", param_hint="--nats-url")
    hosts = tuple(dict.fromkeys([url.hostname, *(host or []), "127.0.0.1", "localhost"]))
    layout = SecureLayout(data_dir)
    layout.ensure_tls(hosts)
    layout.prepare_nats(url.hostname, url.port or 4222, tls=True)
    mongo = write_mongo_files(layout, mongodb_db)
    out.print(f"secure layout in {layout.root}")
    out.print(f"  nats-server config   {layout.nats_config} (includes {layout.auth_config.name})")
    out.print(f"  CA / server cert     {layout.tls.ca}, {layout.tls.cert}")
    for role in SERVICE_ROLES:
        out.print(f"  {role.value:<20} {layout.spec_path(role)}")
    out.print(f"  MongoDB files        {mongo}")
    out.print("Tenants: one-bus tenant add NAME --data-dir " + str(data_dir))

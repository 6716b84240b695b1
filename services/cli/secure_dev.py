"""`one-bus dev --secure`: the embedded stack with authentication, permissions and TLS."""

from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.console import Console

from services.runtime.service import OneBusService
from services.security.roles import Role
from services.security.secure_dev import secure_servers

console = Console(stderr=True)


async def run_secure_dev(
    data_dir: Path, nats_port: int, mongo_port: int, until: Callable[[], Awaitable[None]]
) -> None:
    async with (
        secure_servers(data_dir, nats_port=nats_port, mongo_port=mongo_port) as stack,
        OneBusService(stack.settings),
    ):
        layout = stack.layout
        console.print(f"[bold green]ONE Bus is up, secured[/] (data in {data_dir})")
        console.print(f"  NATS     {stack.settings.nats_url}  (TLS, CA {layout.tls.ca})")
        console.print(f"  MongoDB  {stack.servers.mongodb_uri}  (--auth, TLS)")
        console.print(f"  operator {layout.spec_path(Role.OPERATOR)}  (for `one-bus dlq`:")
        console.print(f"           ONE_NATS_CREDENTIALS_FILE={layout.spec_path(Role.OPERATOR)})")
        console.print(f"  tenants  one-bus tenant add NAME --data-dir {data_dir}")
        console.print("  Ctrl-C stops everything.")
        await until()
    console.print("stopped")

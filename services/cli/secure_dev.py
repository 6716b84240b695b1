"""`one-bus dev --secure`: the embedded stack with authentication, permissions and TLS."""

import asyncio
from pathlib import Path

from rich.console import Console

from services.runtime.runner import run_until_stopped
from services.runtime.secure_dev import secure_servers
from services.runtime.service import OneBusService
from services.security.roles import Role

# soft_wrap: the MongoDB URI (its tlsCAFile=...) and the commands stay on one line each.
console = Console(stderr=True, soft_wrap=True)


async def run_secure_dev(
    data_dir: Path, nats_port: int, mongo_port: int, stop: asyncio.Event
) -> None:
    async with secure_servers(data_dir, nats_port=nats_port, mongo_port=mongo_port) as stack:
        layout = stack.layout

        def announce(_: OneBusService) -> None:
            operator = layout.spec_path(Role.OPERATOR)
            console.print(f"[bold green]ONE Bus is up, secured[/] (data in {data_dir})")
            console.print(f"  NATS     {stack.settings.nats_url}  (TLS, CA {layout.tls.ca})")
            console.print(f"  MongoDB  {stack.servers.mongodb_uri}  (--auth, TLS)")
            console.print(f"  operator one-bus dlq list --credentials {operator}")
            console.print(f"  tenants  one-bus tenant add NAME --data-dir {data_dir}")
            console.print("  Ctrl-C stops everything.")

        supervisor = asyncio.create_task(stack.servers.supervise(), name="one-bus-supervisor")
        try:
            await run_until_stopped(stack.settings, stop, on_running=announce)
        finally:
            supervisor.cancel()
    console.print("stopped", highlight=False)

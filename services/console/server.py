"""The console's HTTP server (uvicorn) on the caller's event loop, for `one-bus console`,
`one-bus dev` and the tests alike.

The socket is bound here, before uvicorn starts: a port in use is an OSError at once, and
port 0 gives a free port whose number `url` then reports.
"""

import asyncio
import contextlib
import ipaddress
import secrets
import socket
from collections.abc import AsyncIterator, Iterator

import uvicorn

from contracts.connection_spec import ConnectionSpec
from services.console import DEFAULT_HOST, DEFAULT_PORT
from services.console.app import create_app
from services.console.bus import ConsoleBus
from services.settings import Settings


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The process that runs the console (`one-bus dev`, a test) owns its signals.
        yield


class ConsoleServer:
    """`async with ConsoleServer(bus, ...) as server: server.url` serves the console."""

    def __init__(
        self,
        bus: ConsoleBus,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        token: str | None = None,
        sample_every_s: float = 5.0,
    ) -> None:
        self.bus = bus
        self.host = host
        self.port = port
        # Bound beyond the loopback interface, a login is required: with the token given,
        # else a new one (printed by whoever starts it).
        self.token = None if is_loopback(host) else (token or secrets.token_urlsafe(24))
        self.app = create_app(
            bus, token=self.token, loopback_only=is_loopback(host), sample_every_s=sample_every_s
        )
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def start(self) -> "ConsoleServer":
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        sock.listen(128)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="on",
            access_log=False,
            # Live pages end their streams when told to stop; this bounds the rest.
            timeout_graceful_shutdown=5,
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="one-console")
        while not self._server.started:
            if self._task.done():
                await self._task  # raises what stopped it
                raise RuntimeError("the console's HTTP server stopped at start")
            await asyncio.sleep(0.02)
        return self

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self.app.state.console.stopping.set()
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._server = self._task = None

    async def __aenter__(self) -> "ConsoleServer":
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        await self.stop()


@contextlib.asynccontextmanager
async def running_console(
    spec: ConnectionSpec,
    tenant: str,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    settings: Settings | None = None,
) -> AsyncIterator[ConsoleServer]:
    """Connect as `spec` for `tenant` and serve the console until the block ends."""
    bus = await ConsoleBus(spec, tenant, settings or Settings()).start()
    try:
        async with ConsoleServer(bus, host=host, port=port, token=token) as server:
            yield server
    finally:
        await bus.close()

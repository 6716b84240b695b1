"""`/healthz`, `/readyz` and `/metrics` on `ONE_METRICS_PORT`, for probes and Prometheus.

- `/healthz` (liveness): the event loop is turning. A heartbeat task stamps the time every
  second; a loop blocked for longer than `stale_after_s` answers 503, so the orchestrator
  restarts a process that is alive but stuck.
- `/readyz` (readiness): the service is started, connected to NATS, its store answered
  the last ping and (with ingest) its consumer is fetching. 503 with the failing checks
  otherwise, so traffic goes elsewhere while a server is unreachable.
- `/metrics`: Prometheus text. Any other path is 404.

Served from a thread (wsgiref), so a busy event loop cannot stall the probes themselves.
"""

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from threading import Thread
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass
class HealthState:
    """What the probes report; written by the service's event loop, read by the server."""

    stale_after_s: float = 10.0
    heartbeat: float = field(default_factory=time.monotonic)
    # check name → None when passing, else why not.
    checks: dict[str, str | None] = field(
        default_factory=lambda: {"started": "starting", "nats": "not connected", "store": None}
    )

    def live(self) -> bool:
        return time.monotonic() - self.heartbeat < self.stale_after_s

    def ready(self) -> bool:
        return all(problem is None for problem in self.checks.values())


Check = Callable[[], str | None]
"""None when passing, else why not."""


async def beat(
    state: HealthState,
    store_ping: Callable[[], Awaitable[object]],
    checks: Mapping[str, Check],
) -> None:
    """Stamp the heartbeat every second, run `checks` and ping the store (every 5 s)."""
    tick = 0
    while True:
        state.heartbeat = time.monotonic()
        for name, check in checks.items():
            state.checks[name] = check()
        if tick % 5 == 0:
            try:
                await asyncio.wait_for(store_ping(), 2.0)
                state.checks["store"] = None
            except Exception as error:
                state.checks["store"] = f"{type(error).__name__}"
        tick += 1
        await asyncio.sleep(1.0)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes hit every few seconds: no access log line for each."""


def _json(start: StartResponse, ok: bool, body: dict[str, Any]) -> Iterable[bytes]:
    start("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


def health_app(state: HealthState, registry: CollectorRegistry) -> Callable[..., Iterable[bytes]]:
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            result: Iterable[bytes] = metrics(environ, start)
            return result
        if path == "/healthz":
            live = state.live()
            return _json(start, live, {"status": "ok" if live else "stalled"})
        if path == "/readyz":
            failing = {name: why for name, why in state.checks.items() if why is not None}
            return _json(start, not failing, {"ready": not failing, "failing": failing})
        start("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: /healthz, /readyz, /metrics\n"]

    return app


class HealthServer:
    def __init__(self, port: int, state: HealthState, registry: CollectorRegistry) -> None:
        self._server: WSGIServer = make_server(
            "0.0.0.0", port, health_app(state, registry), handler_class=_QuietHandler
        )
        self._thread = Thread(target=self._server.serve_forever, name="one-bus-health", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_port

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()

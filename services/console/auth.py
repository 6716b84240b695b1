"""Who may use the console, and that forms are the console's own.

On 127.0.0.1 anyone on the machine may (as with the bus's open dev servers); bound
elsewhere, a browser logs in once, with the token printed at start (the session then acts
as the console's own identity) or with a NATS connection spec (the session then acts as
that identity, on a connection of its own), and gets a session cookie. Every POST
carries the process's form token (a page of another site cannot make the browser replay
dead letters), and the Host header must name the console (a DNS rebinding page cannot
read it through the browser).
"""

import hmac
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from services.console.bus import ConsoleBus

SESSION_COOKIE: Final = "one_console_session"
LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})
OPEN_PATHS: Final = ("/login", "/static/")


@dataclass
class Access:
    """The console's keys: the login token (None: no login) and the form token."""

    token: str | None
    form_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    # Session id → the bus it acts through: None for a token login (the console's own
    # identity), a ConsoleBus of its own for a login with NATS credentials.
    sessions: dict[str, "ConsoleBus | None"] = field(default_factory=dict)
    loopback_only: bool = True

    def check_token(self, offered: str) -> bool:
        return self.token is not None and hmac.compare_digest(offered.encode(), self.token.encode())

    def new_session(self, bus: "ConsoleBus | None" = None) -> str:
        session = secrets.token_urlsafe(32)
        self.sessions[session] = bus
        return session

    def _session(self, request: Request) -> str | None:
        offered = request.cookies.get(SESSION_COOKIE, "")
        found = [s for s in self.sessions if offered and hmac.compare_digest(offered, s)]
        return found[0] if found else None

    def session_bus(self, request: Request) -> "ConsoleBus | None":
        """The bus of a session that logged in with NATS credentials, else None."""
        session = self._session(request)
        return self.sessions.get(session) if session else None

    def logged_in(self, request: Request) -> bool:
        if self.token is None:
            return True
        if self._session(request) is not None:
            return True
        bearer = request.headers.get("authorization", "")
        return bearer.startswith("Bearer ") and self.check_token(bearer[len("Bearer ") :])

    def form_ok(self, offered: str) -> bool:
        return hmac.compare_digest(offered.encode(), self.form_token.encode())


def _host_name(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")]
    return host_header.rsplit(":", 1)[0] if ":" in host_header else host_header


_HEADERS: Final = {
    # Nothing but the console's own files runs, and no other site may frame it.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class Guard:
    """ASGI middleware (not BaseHTTPMiddleware: the live pages stream for as long as a
    browser keeps them open, and must see the browser leave)."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal: Response | None = None
        if (
            self.access.loopback_only
            and _host_name(request.headers.get("host", "")) not in LOOPBACK
        ):
            refusal = PlainTextResponse("this console answers on 127.0.0.1 only", status_code=421)
        elif not request.url.path.startswith(OPEN_PATHS) and not self.access.logged_in(request):
            refusal = RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        if refusal is not None:
            await refusal(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)

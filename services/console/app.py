"""The console's routes: one Starlette app around one `ConsoleBus`.

Pages are server-rendered (views.py); the live parts are server-sent events (live.py) read
by the one hand-written script in static/. The app does nothing the bus's own interfaces
do not: every figure and record comes from a query, a watch, a stream read or a publish
made with the console's identity, and a refusal is shown as a message.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

from nats.errors import Error as NatsError
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from contracts.connection_spec import ConnectionSpec
from contracts.ontology import ENTITY_STATUSES, ENTITY_TYPES
from contracts.queries import MAX_GRAPH_DEPTH, EntitiesSearch
from one_bus.errors import NotFoundError, OneBusError
from services.console import live, plots
from services.console.auth import SESSION_COOKIE, Access, Guard
from services.console.bus import BusRefusedError, BusUnavailableError, ConsoleBus, records_query
from services.console.graph_layout import layout
from services.console.health import Health, per_hour
from services.console.views import render

STATIC: Final = Path(__file__).parent / "static"
PAGE_SIZE: Final = 50
MAX_REPLAY: Final = 100


class Console:
    """State the routes share: the bus, who may log in, the health history."""

    def __init__(self, bus: ConsoleBus, access: Access, sample_every_s: float) -> None:
        self.bus = bus
        self.access = access
        self.health = Health(bus)
        self.sample_every_s = sample_every_s
        # Set when the console stops: live pages end their streams.
        self.stopping = asyncio.Event()
        self._session_health: dict[ConsoleBus, Health] = {}

    def bus_for(self, request: Request) -> ConsoleBus:
        """The session's own bus (a login with NATS credentials), else the console's."""
        return self.access.session_bus(request) or self.bus

    def health_for(self, bus: ConsoleBus) -> Health:
        if bus is self.bus:
            return self.health
        return self._session_health.setdefault(bus, Health(bus))

    def page(
        self, template: str, request: Request, status_code: int = 200, **context: Any
    ) -> Response:
        return render(
            template,
            status_code,
            identity=self.bus_for(request).identity,
            form_token=self.access.form_token,
            path=request.url.path,
            **context,
        )

    def say(self, request: Request, status_code: int, message: str) -> Response:
        return self.page(
            "problem.html", request, status_code, message=message, refused=status_code == 403
        )

    def problem(self, request: Request, error: Exception, status_code: int = 200) -> Response:
        refused = isinstance(error, BusRefusedError)
        return self.page(
            "problem.html",
            request,
            403 if refused else status_code,
            message=str(error),
            refused=refused,
        )

    # Records

    async def records(self, request: Request) -> Response:
        bus = self.bus_for(request)
        params = request.query_params
        chosen = {
            "type": params.get("type") or None,
            "status": params.get("status") or None,
            "q": (params.get("q") or "").strip(),
            "cursor": params.get("cursor") or None,
        }
        items: list[Any] = []
        next_cursor = None
        error: str | None = None
        try:
            query = records_query(
                type=chosen["type"],
                status=chosen["status"],
                text=chosen["q"] or "",
                cursor=chosen["cursor"],
                limit=PAGE_SIZE,
            )
            with bus.guard("records"):
                if isinstance(query, EntitiesSearch):
                    items = await bus.client.search_entities(query)
                else:
                    page = await bus.client.list_entities(query)
                    items, next_cursor = page.items, page.nextCursor
        except ValidationError as invalid:
            error = "; ".join(e["msg"] for e in invalid.errors())
        except (BusRefusedError, BusUnavailableError, OneBusError) as failed:
            error = str(failed)
        return self.page(
            "records.html",
            request,
            items=items,
            next_cursor=next_cursor,
            chosen=chosen,
            error=error,
            types=ENTITY_TYPES,
            statuses=ENTITY_STATUSES,
        )

    async def entity(self, request: Request) -> Response:
        bus = self.bus_for(request)
        entity_id = request.path_params["entity_id"]
        try:
            view = await bus.entity_view(entity_id)
        except NotFoundError:
            return self.page(
                "problem.html", request, 404, message=f"no entity {entity_id}", refused=False
            )
        except (BusRefusedError, BusUnavailableError, OneBusError, ValidationError) as error:
            return self.problem(request, error)
        return self.page("entity.html", request, view=view, max_depth=MAX_GRAPH_DEPTH)

    async def graph(self, request: Request) -> Response:
        bus = self.bus_for(request)
        entity_id = request.path_params["entity_id"]
        raw = request.query_params.get("depth", "1")
        depth = min(max(int(raw) if raw.isdigit() else 1, 1), MAX_GRAPH_DEPTH)
        try:
            graph = await bus.graph(entity_id, depth)
        except (BusRefusedError, BusUnavailableError, OneBusError, ValidationError) as error:
            return self.problem(request, error)
        return self.page(
            "graph.html",
            request,
            start=entity_id,
            depth=depth,
            max_depth=MAX_GRAPH_DEPTH,
            drawn=layout(graph, entity_id),
            truncated=graph.truncated,
        )

    # Live

    async def live_page(self, request: Request) -> Response:
        return self.page("live.html", request)

    async def live_changes(self, request: Request) -> Response:
        bus = self.bus_for(request)
        return live.changes(bus, request, self.stopping)

    async def entity_watch(self, request: Request) -> Response:
        bus = self.bus_for(request)
        return live.entity_watch(bus, request.path_params["entity_id"], self.stopping)

    async def records_watch(self, request: Request) -> Response:
        bus = self.bus_for(request)
        return live.records_watch(bus, request, self.stopping)

    # Dead letters

    async def dead_letters(self, request: Request) -> Response:
        bus = self.bus_for(request)
        reason = request.query_params.get("reason") or None
        try:
            everything = await bus.dead_letters()
        except (BusRefusedError, BusUnavailableError) as error:
            return self.problem(request, error)
        reasons = sorted({letter.reason for letter in everything})
        shown = [letter for letter in everything if reason is None or letter.reason == reason]
        return self.page(
            "dead_letters.html",
            request,
            letters=list(reversed(shown)),
            reasons=reasons,
            reason=reason,
        )

    async def dead_letter(self, request: Request) -> Response:
        bus = self.bus_for(request)
        seq = int(request.path_params["seq"])
        try:
            letter = await bus.dead_letter(seq)
        except NotFoundError:
            return self.page(
                "problem.html", request, 404, message=f"no dead letter {seq}", refused=False
            )
        except (BusRefusedError, BusUnavailableError) as error:
            return self.problem(request, error)
        return self.page("dead_letter.html", request, letter=letter)

    async def replay(self, request: Request) -> Response:
        bus = self.bus_for(request)
        form = await request.form()
        if not self.access.form_ok(str(form.get("form_token", ""))):
            return self.page(
                "problem.html",
                request,
                403,
                message="this form is not the console's own (reload the page)",
                refused=True,
            )
        chosen = [str(value) for value in form.getlist("seq")]
        seqs = sorted({int(value) for value in chosen if value.isdigit()})[:MAX_REPLAY]
        if not seqs:
            return self.page(
                "problem.html", request, 400, message="no dead letter chosen", refused=False
            )
        try:
            results = await bus.replay(seqs)
        except BusRefusedError as error:
            return self.problem(request, error)
        return self.page("replayed.html", request, results=results)

    # Health

    async def health_page(self, request: Request) -> Response:
        bus = self.bus_for(request)

        async def letters_or_why() -> tuple[list[Any], str | None]:
            try:
                return await bus.dead_letters(), None
            except (BusRefusedError, BusUnavailableError) as error:
                return [], str(error)

        health = self.health_for(bus)
        health.wanted()
        # Side by side: each waits on the bus (the statistics gather their replies, an
        # empty dead-letter stream is waited on briefly).
        snap, (letters, dlq_error) = await asyncio.gather(health.snapshot(), letters_or_why())
        history = health.history
        hourly = plots.bars(per_hour([letter.position.time for letter in letters]))
        return self.page(
            "health.html",
            request,
            snap=snap,
            plots={
                "ingest backlog (messages)": plots.line(
                    history.series(lambda s: s.ingest_pending.value)
                ),
                "ingest rate (messages/s, all tenants)": plots.line(
                    history.rate(lambda s: s.ingest_stored.value)
                ),
                "query latency (ms, mean per interval)": plots.line(history.latency_ms()),
                "watches": plots.line(history.series(lambda s: s.watches.value)),
            },
            hourly=hourly,
            dlq_error=dlq_error,
            sample_every_s=self.sample_every_s,
        )

    # Login

    async def login_page(self, request: Request) -> Response:
        return self.page(
            "login.html", request, next=_local(request.query_params.get("next")), failed=False
        )

    async def login(self, request: Request) -> Response:
        form = await request.form()
        target = _local(str(form.get("next", "")))
        offered_spec = str(form.get("spec", "")).strip()
        session_bus: ConsoleBus | None = None
        if offered_spec:
            session_bus = await self._connect_as(offered_spec)
            if session_bus is None:
                return self.page("login.html", request, 403, next=target, failed=True)
        elif not self.access.check_token(str(form.get("token", ""))):
            return self.page("login.html", request, 403, next=target, failed=True)
        response = RedirectResponse(target, status_code=303)
        session = self.access.new_session(session_bus)
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict")
        return response

    async def _connect_as(self, offered: str) -> ConsoleBus | None:
        """A bus of the identity a pasted connection spec names, if NATS lets it in.

        Where to connect stays the console's own (servers, CA): a login names who, never
        where, so the console is not made to dial other hosts."""
        try:
            spec = ConnectionSpec.model_validate_json(offered)
        except ValidationError:
            return None
        if not spec.authenticated:
            return None
        spec = spec.model_copy(
            update={"servers": self.bus.spec.servers, "tls_ca": self.bus.spec.tls_ca}
        )
        tenant = spec.tenant or self.bus.identity.tenant
        try:
            return await ConsoleBus(spec, tenant, self.bus.settings).start()
        except (OSError, TimeoutError, NatsError, ValueError):
            return None

    async def close_sessions(self) -> None:
        for session_bus in {b for b in self.access.sessions.values() if b is not None}:
            with contextlib.suppress(Exception):
                await session_bus.close()


def _local(target: str | None) -> str:
    """Only a path of this console (no `//elsewhere`): the login cannot send you away."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/records"


def create_app(
    bus: ConsoleBus,
    *,
    token: str | None = None,
    loopback_only: bool = True,
    sample_every_s: float = 5.0,
) -> Starlette:
    """The console for `bus`. `token`: required to log in (None: no login, loopback only)."""
    console = Console(bus, Access(token=token, loopback_only=loopback_only), sample_every_s)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        sampler = asyncio.create_task(console.health.sample_forever(sample_every_s))
        try:
            yield
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            await console.close_sessions()

    async def home(_: Request) -> Response:
        return RedirectResponse("/records", status_code=303)

    routes = [
        Route("/", home),
        Route("/records", console.records),
        Route("/records/live", console.records_watch),
        Route("/records/{entity_id}", console.entity),
        Route("/records/{entity_id}/graph", console.graph),
        Route("/records/{entity_id}/live", console.entity_watch),
        Route("/live", console.live_page),
        Route("/live/changes", console.live_changes),
        Route("/dead-letters", console.dead_letters),
        Route("/dead-letters/replay", console.replay, methods=["POST"]),
        Route("/dead-letters/{seq:int}", console.dead_letter),
        Route("/health", console.health_page),
        Route("/login", console.login_page),
        Route("/login", console.login, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Guard, access=console.access)],
        lifespan=lifespan,
    )
    app.state.console = console
    return app

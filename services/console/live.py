"""Server-sent events for the live pages: the tenant's changes stream, and a watch.

An EventSource reconnects by itself with `Last-Event-ID`: for changes that is the stream
sequence of the last change shown, so a pause or a dropped connection resumes after it
and loses nothing. Each stream first sends `ready` once the bus is listening, so a page
(and a test) knows that what is published from then on will be shown.
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Final, TypeVar

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import StreamingResponse

from contracts.ontology import COLLECTIONS
from contracts.queries import (
    ConnectionsList,
    EntitiesGet,
    EntitiesSearch,
    EventsList,
    Query,
    TagsList,
)
from one_bus.delivered import ChangeMessage
from one_bus.errors import OneBusError
from services.console.bus import BusRefusedError, BusUnavailableError, ConsoleBus, records_query

T = TypeVar("T")
KEEPALIVE_S: Final = 15.0
MAX_LIST: Final = 50


_STOPPED: Final = object()


async def _unless_stopped(next_item: Awaitable[T], stopping: asyncio.Event) -> T | object:
    """The next item, or `_STOPPED` once the console is stopping (a live page would
    otherwise hold its connection, and the server's shutdown, open for ever)."""
    item = asyncio.ensure_future(next_item)
    stop = asyncio.ensure_future(stopping.wait())
    try:
        done, _ = await asyncio.wait({item, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        if not item.done():
            item.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await item
    return item.result() if item in done else _STOPPED


def _event(name: str, data: Any, event_id: int | None = None) -> str:
    # json.dumps never emits a raw newline, so one `data:` line carries the whole value.
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, default=str)}\n\n"


def _response(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _after(request: Request) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("after") or ""
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def changes(bus: ConsoleBus, request: Request, stopping: asyncio.Event) -> StreamingResponse:
    collection = request.query_params.get("collection") or None
    if collection not in (None, *COLLECTIONS):
        collection = None
    after = _after(request)

    async def events() -> AsyncIterator[str]:
        try:
            with bus.guard("following the changes"):
                subscription = bus.client.subscribe(
                    collection=collection,  # type: ignore[arg-type]
                    start_seq=after + 1 if after else None,
                )
                await subscription.start()
        except (BusRefusedError, BusUnavailableError) as error:
            yield _event("problem", str(error))
            return
        async with subscription:
            yield _event("ready", {"after": after})
            while not stopping.is_set():
                try:
                    message = await _unless_stopped(subscription.next(KEEPALIVE_S), stopping)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if not isinstance(message, ChangeMessage):
                    return
                change = message.change
                record = change.record
                yield _event(
                    "change",
                    {
                        "seq": message.position.seq,
                        "time": message.position.time.isoformat(timespec="seconds"),
                        "collection": change.collection,
                        "op": change.op,
                        "id": record.get("id") or record.get("entityId"),
                        "type": record.get("type") or record.get("relationshipType"),
                        "name": record.get("name") or record.get("key"),
                    },
                    message.position.seq,
                )

    return _response(events())


def records_watch(bus: ConsoleBus, request: Request, stopping: asyncio.Event) -> StreamingResponse:
    """The records list as a watch: each new result replaces the rows shown."""
    params = request.query_params
    try:
        query = records_query(
            type=params.get("type"),
            status=params.get("status"),
            text=(params.get("q") or "").strip(),
            cursor=None,
            limit=MAX_LIST,
        )
    except ValidationError as error:
        return _response(_single("problem", f"not a valid list: {error}"))
    name = "entities.search" if isinstance(query, EntitiesSearch) else "entities.list"

    async def events() -> AsyncIterator[str]:
        try:
            with bus.guard(f"watching {name}"):
                watch = bus.client.watch(name, query)
                await watch.start()
        except (BusRefusedError, BusUnavailableError, OneBusError) as error:
            yield _event("problem", str(error))
            return
        async with watch:
            yield _event("ready", {"watchId": watch.watch_id})
            results = aiter(watch)
            while True:
                try:
                    result = await _unless_stopped(anext(results), stopping)
                except StopAsyncIteration:
                    break
                if result is _STOPPED:
                    return
                yield _event("result", {"version": watch.version, "items": _rows(result)})
            if watch.ended_reason and watch.ended_reason != "stopped":
                yield _event("problem", f"the watch ended: {watch.ended_reason}")

    return _response(events())


def _rows(result: Any) -> list[dict[str, Any]]:
    items = result.get("items", []) if isinstance(result, dict) else []
    return [
        {k: item.get(k) for k in ("id", "type", "name", "status", "updatedAt")}
        for item in items
        if isinstance(item, dict)
    ]


async def _single(name: str, data: Any) -> AsyncIterator[str]:
    yield _event(name, data)


def entity_watch(bus: ConsoleBus, entity_id: str, stopping: asyncio.Event) -> StreamingResponse:
    """An entity page switched to live: a watch on each of its lists; `changed` when any
    of them has a new result (the page then shows itself again)."""
    try:
        watched: list[tuple[str, Query]] = [
            ("entities.get", EntitiesGet(id=entity_id)),
            ("tags.list", TagsList(entityId=entity_id, limit=100)),
            ("connections.list", ConnectionsList(fromEntityId=entity_id, limit=100)),
            ("connections.list", ConnectionsList(toEntityId=entity_id, limit=100)),
            ("events.list", EventsList(targetId=entity_id, limit=100)),
        ]
    except ValidationError as error:
        return _response(_single("problem", f"not an entity id: {error}"))

    async def events() -> AsyncIterator[str]:
        news: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

        async def follow(name: str, query: Query) -> None:
            try:
                with bus.guard(f"watching {name}"):
                    async with bus.client.watch(name, query) as watch:
                        first = True
                        async for _ in watch:
                            await news.put(("ready", name) if first else ("changed", name))
                            first = False
            except (BusRefusedError, BusUnavailableError, OneBusError) as error:
                await news.put(("problem", str(error)))

        followers = [asyncio.create_task(follow(name, query)) for name, query in watched]
        ready = 0
        try:
            while True:
                item = await _unless_stopped(news.get(), stopping)
                if not isinstance(item, tuple):
                    return
                kind, what = item
                if kind == "ready":
                    ready += 1
                    if ready == len(followers):
                        yield _event("ready", {"watches": ready})
                    continue
                yield _event(kind, what)
                if kind == "problem":
                    return
        finally:
            for follower in followers:
                follower.cancel()
            await asyncio.gather(*followers, return_exceptions=True)

    return _response(events())

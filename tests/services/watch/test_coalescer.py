"""Coalescing (no servers): dirty watches become one read per distinct query, a watch
still being created waits, and a query is never read twice at once."""

import asyncio

from contracts.queries import EventsList
from services.watch.coalescer import Coalescer
from services.watch.registry import Registry, Watched
from tests.services.watch.fakes import watched

WINDOW_S = 0.02


def coalescer(registry: Registry, refreshed: list[list[str]], gate: asyncio.Event) -> Coalescer:
    async def refresh(group: list[Watched]) -> None:
        refreshed.append(sorted(w.watch_id for w in group))
        await gate.wait()

    return Coalescer(registry, WINDOW_S, retry_delay_s=0.01, refresh=refresh)


def test_watches_of_one_query_share_a_read_and_unknown_ones_are_dropped() -> None:
    registry = Registry()
    for watch in (watched("a"), watched("b"), watched("c", EventsList(actorId="other"))):
        registry.add(watch)
    dirty = coalescer(registry, [], asyncio.Event())
    for watch_id in ("a", "b", "c", "gone"):
        dirty.mark(watch_id)
    groups = dirty.take()
    assert sorted(sorted(w.watch_id for w in group) for group in groups.values()) == [
        ["a", "b"],
        ["c"],
    ]
    assert dirty.take() == {}


def test_a_watch_marked_while_its_first_result_is_read_waits_for_its_release() -> None:
    registry = Registry()
    creating = watched("new", ready=False)
    registry.add(creating)
    dirty = coalescer(registry, [], asyncio.Event())
    dirty.mark("new")
    assert dirty.take() == {}
    creating.ready = True
    dirty.release("new")
    assert [w.watch_id for group in dirty.take().values() for w in group] == ["new"]
    dirty.release("new")  # released once: nothing more
    assert dirty.take() == {}


def test_a_forgotten_watch_is_not_read() -> None:
    registry = Registry()
    registry.add(watched("a"))
    dirty = coalescer(registry, [], asyncio.Event())
    dirty.mark("a")
    dirty.forget("a")
    assert dirty.take() == {}


async def test_marks_within_the_window_give_one_read_and_a_mark_during_it_one_more() -> None:
    registry = Registry()
    registry.add(watched("a"))
    registry.add(watched("b"))
    refreshed: list[list[str]] = []
    gate = asyncio.Event()
    dirty = coalescer(registry, refreshed, gate)
    stopping = False
    loop = asyncio.create_task(dirty.run(lambda: stopping))
    try:
        dirty.mark("a")
        dirty.mark("b")
        await asyncio.sleep(WINDOW_S * 5)
        assert refreshed == [["a", "b"]]
        # Made dirty while its query is read: deferred, then read once that read is done.
        dirty.mark("a")
        await asyncio.sleep(WINDOW_S * 5)
        assert refreshed == [["a", "b"]]
        gate.set()
        await asyncio.sleep(WINDOW_S * 5)
        assert refreshed == [["a", "b"], ["a"]]
    finally:
        stopping = True
        loop.cancel()


async def test_a_group_whose_refresh_failed_is_marked_again_after_the_pause() -> None:
    registry = Registry()
    registry.add(watched("a"))
    attempts: list[str] = []

    async def refresh(group: list[Watched]) -> None:
        attempts.append(group[0].watch_id)
        if len(attempts) == 1:
            raise RuntimeError("the bucket is away")

    dirty = Coalescer(registry, WINDOW_S, retry_delay_s=0.01, refresh=refresh)
    loop = asyncio.create_task(dirty.run(lambda: False))
    try:
        dirty.mark("a")
        await asyncio.sleep(WINDOW_S * 10)
        assert attempts == ["a", "a"]
    finally:
        loop.cancel()

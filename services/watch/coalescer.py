"""Dirty watches → one re-evaluation per distinct query, after a coalescing window.

Separate because it is the one place that decides *when* and *how often* a query is read
again, whatever marked its watches dirty (a change, a takeover, a failed read to retry):
changes landing within `watch_coalesce_s` join one re-evaluation; watches of the same
query share it; a query is never read twice at once (made dirty while it is read, it is
read again once that read is done); and a watch whose first result is still being read
waits until its creation releases it. The reads themselves run elsewhere (`refresh`),
each on its own: the next flush does not wait for the previous one's reads, so no tenant
waits for another's batch (evaluator.py grants the store slots in turn).
"""

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Iterable

from services.watch.registry import Registry, Watched

log = logging.getLogger(__name__)

Refresh = Callable[[list[Watched]], Awaitable[None]]


class Coalescer:
    def __init__(
        self, registry: Registry, window_s: float, retry_delay_s: float, refresh: Refresh
    ) -> None:
        self._registry = registry
        self._window_s = window_s
        self._retry_delay_s = retry_delay_s
        self._refresh = refresh
        self._dirty: set[str] = set()
        # Marked while their first result was read: marked again once it is in.
        self._held: set[str] = set()
        self._dirty_event = asyncio.Event()
        # Query key → its re-evaluation in progress; the watches of that key made dirty
        # meanwhile, marked again when it is done.
        self.refreshing: dict[str, asyncio.Task[None]] = {}
        self._deferred: dict[str, set[str]] = {}

    def mark(self, watch_id: str) -> None:
        self._dirty.add(watch_id)
        self._dirty_event.set()

    def mark_again(self, group: Iterable[Watched]) -> None:
        """Mark those of `group` still served (a retry: some may have ended meanwhile)."""
        for watched in group:
            if watched.watch_id in self._registry:
                self.mark(watched.watch_id)

    def retry_later(self, group: list[Watched]) -> None:
        asyncio.get_running_loop().call_later(self._retry_delay_s, self.mark_again, group)

    def release(self, watch_id: str) -> None:
        """The watch's first result is in: a mark held back meanwhile counts now."""
        if watch_id in self._held:
            self._held.discard(watch_id)
            self.mark(watch_id)

    def forget(self, watch_id: str) -> None:
        self._dirty.discard(watch_id)
        self._held.discard(watch_id)

    def take(self) -> dict[str, list[Watched]]:
        """The dirty watches that can be read now, by query key; the others held back or
        deferred until what they wait for is done."""
        dirty, self._dirty = self._dirty, set()
        self._dirty_event.clear()
        groups: dict[str, list[Watched]] = {}
        for watch_id in dirty:
            watched = self._registry.watches.get(watch_id)
            if watched is None:
                continue
            if not watched.ready:
                self._held.add(watch_id)  # its creation will release it
                continue
            if watched.query_key in self.refreshing:
                self._deferred.setdefault(watched.query_key, set()).add(watch_id)
                continue
            groups.setdefault(watched.query_key, []).append(watched)
        return groups

    async def run(self, stopping: Callable[[], bool]) -> None:
        while not stopping():
            await self._dirty_event.wait()
            # The coalescing window: changes landing meanwhile join this re-evaluation.
            await asyncio.sleep(self._window_s)
            for key, group in self.take().items():
                # Not awaited: the next changes are flushed while these reads wait their
                # turn for a slot.
                task = asyncio.create_task(self._refresh_safely(group))
                self.refreshing[key] = task
                task.add_done_callback(functools.partial(self._refreshed, key))

    def _refreshed(self, key: str, _task: "asyncio.Task[None]") -> None:
        self.refreshing.pop(key, None)
        for watch_id in self._deferred.pop(key, ()):
            if watch_id in self._registry:
                self.mark(watch_id)

    async def _refresh_safely(self, group: list[Watched]) -> None:
        """A failure of one group (the bucket unreachable mid-push, ...) must not end the
        loop that serves them all: it is logged and the group tried again after a pause."""
        try:
            await self._refresh(group)
        except Exception:
            log.exception("refreshing %d watches of %s failed", len(group), group[0].name)
            self.retry_later(group)

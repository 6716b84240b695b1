"""The watches one replica serves, indexed so a change finds only those it can affect.

Pure bookkeeping (no I/O): `candidates` costs a few dictionary lookups per change, however
many watches there are (matcher.py says which keys a change looks up and why).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from contracts.queries import Query
from services.watch.matcher import (
    FilterKey,
    PageEdge,
    ResultKey,
    change_filter_keys,
    filter_keys,
    may_enter,
    record_identity,
)


@dataclass(slots=True, eq=False)
class Watched:
    """A watch this replica serves, with what it last told the watcher."""

    watch_id: str
    tenant: str
    name: str
    request: Query
    deliver_to: str
    # What identifies the query's result: watches with the same key share one read.
    query_key: str
    version: int = 1
    result_hash: str | None = None
    edge: PageEdge | None = None
    result_keys: set[ResultKey] = field(default_factory=set)
    # False while its first result is being read: pushes wait for the reply to go out.
    ready: bool = True


class Registry:
    def __init__(self) -> None:
        self.watches: dict[str, Watched] = {}
        self._by_filter: defaultdict[tuple[str, FilterKey], set[str]] = defaultdict(set)
        self._by_result: defaultdict[tuple[str, ResultKey], set[str]] = defaultdict(set)

    def __len__(self) -> int:
        return len(self.watches)

    def __contains__(self, watch_id: object) -> bool:
        return watch_id in self.watches

    def add(self, watched: Watched) -> None:
        self.remove(watched.watch_id)
        self.watches[watched.watch_id] = watched
        for key in filter_keys(watched.name, watched.request):
            self._by_filter[(watched.tenant, key)].add(watched.watch_id)
        self._index_results(watched, watched.result_keys)

    def remove(self, watch_id: str) -> Watched | None:
        watched = self.watches.pop(watch_id, None)
        if watched is None:
            return None
        for key in filter_keys(watched.name, watched.request):
            _discard(self._by_filter, (watched.tenant, key), watch_id)
        for result_key in watched.result_keys:
            _discard(self._by_result, (watched.tenant, result_key), watch_id)
        return watched

    def set_result(self, watched: Watched, keys: set[ResultKey], edge: PageEdge | None) -> None:
        """What the watch's last result shows (its result keys) and where its page ends."""
        if self.watches.get(watched.watch_id) is not watched:
            watched.result_keys, watched.edge = keys, edge
            return
        for key in watched.result_keys - keys:
            _discard(self._by_result, (watched.tenant, key), watched.watch_id)
        self._index_results(watched, keys - watched.result_keys)
        watched.result_keys, watched.edge = keys, edge

    def _index_results(self, watched: Watched, keys: Iterable[ResultKey]) -> None:
        for key in keys:
            self._by_result[(watched.tenant, key)].add(watched.watch_id)

    @staticmethod
    def affects(watched: Watched, collection: str, record: dict[str, Any]) -> bool:
        """Whether a change of `record` may alter `watched`'s result as it now stands: the
        same test as `candidates`, for one watch (changes that landed during its read)."""
        key = record_identity(collection, record)
        if key is not None and (collection, key) in watched.result_keys:
            return True
        pinned = set(filter_keys(watched.name, watched.request))
        if pinned.isdisjoint(change_filter_keys(collection, record)):
            return False
        return may_enter(watched.name, watched.request, record, watched.edge)

    def candidates(self, tenant: str, collection: str, record: dict[str, Any]) -> set[str]:
        """The watches a change of `record` in `collection` of `tenant` may affect."""
        affected: set[str] = set()
        key = record_identity(collection, record)
        if key is not None:
            affected |= self._by_result.get((tenant, (collection, key)), set())
        for filter_key in change_filter_keys(collection, record):
            for watch_id in self._by_filter.get((tenant, filter_key), ()):
                if watch_id in affected:
                    continue
                watched = self.watches[watch_id]
                if may_enter(watched.name, watched.request, record, watched.edge):
                    affected.add(watch_id)
        return affected


def _discard(index: defaultdict[Any, set[str]], key: Any, watch_id: str) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(watch_id)
        if not members:
            del index[key]

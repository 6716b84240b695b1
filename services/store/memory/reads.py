"""The store port's reads over in-memory tables (services/store/port.py).

A keyset list is its query spec's predicate over each of the tenant's records, sorted by
the spec's order and then `_id` in the same direction, as MongoDB walks an index; every
comparison of sort values is MongoDB's (contracts/matching.py).
"""

from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any, TypeVar

from contracts.matching import Order, Record, SortValue, is_int, sort_key
from contracts.ontology import Collection as CollectionName
from contracts.queries import (
    ENTITIES_SEARCH,
    GROUP_BY_FIELDS,
    ConnectionsList,
    EntitiesSearch,
    ListQuery,
    QuerySpec,
)
from services.store.graph_walk import walk
from services.store.keys import NAME_TERMS, document_id, to_record
from services.store.memory.tables import Tables, check_deadline
from services.store.port import Direction, Document, Keyset, Page, Walk
from services.store.search_rank import rank

L = TypeVar("L", bound=ListQuery)

# As many candidates as the MongoDB adapter's search ranks (its MAX_CANDIDATES).
_MAX_CANDIDATES = 1000


def _position(document: Document, order: Order) -> tuple[tuple[int, int | bytes], bytes]:
    return sort_key(document[order.field]), str(document["_id"]).encode()


def _sortable(value: Any, order: Order) -> bool:
    # The MongoDB adapter's index stage always holds a range on the sort key (from 0 for
    # times): a record without such a value is never on a page.
    if order.type is int:
        return is_int(value) and value >= 0
    return isinstance(value, str)


def _value_rank(value: Any) -> tuple[int, SortValue]:
    # MongoDB's order of group keys: null first, then numbers, then strings.
    if value is None:
        return (0, 0)
    return (1, value) if is_int(value) else (2, str(value))


class MemoryReads:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    def _of(self, collection: CollectionName, tenant: str) -> Iterator[Document]:
        for document in self._tables[collection].values():
            if document.get("groupId") == tenant:
                yield document

    def _page(
        self,
        spec: QuerySpec[Any],
        tenant: str,
        request: ListQuery,
        after: Keyset | None,
        limit: int,
    ) -> Page:
        # Every list's spec says how to watch it, and its order.
        watch = spec.watch
        assert watch is not None
        assert watch.order is not None
        order = watch.order(request)
        matches: Callable[[Any, Record], bool] = watch.matches
        found = [
            document
            for document in self._of(watch.collection, tenant)
            if _sortable(document.get(order.field), order) and matches(request, to_record(document))
        ]
        newest_first = order.direction < 0
        found.sort(key=lambda document: _position(document, order), reverse=newest_first)
        if after is not None:
            # Past the cursor in the list's direction, as the index walk resumes there.
            start = (sort_key(after.value), after.last_id.encode())
            found = [
                document
                for document in found
                if (
                    _position(document, order) < start
                    if newest_first
                    else _position(document, order) > start
                )
            ]
        last = found[limit - 1] if len(found) > limit else None
        return Page(
            items=[to_record(document) for document in found[:limit]],
            next=Keyset(last[order.field], last["_id"]) if last is not None else None,
        )

    async def get_entities(
        self,
        tenant: str,
        ids: Sequence[str],
        *,
        entity_type: str | None = None,
        include_deleted: bool = False,
        deadline: float,
    ) -> dict[str, Document]:
        check_deadline(deadline)
        entities = self._tables["entities"]
        found: dict[str, Document] = {}
        for entity_id in dict.fromkeys(ids):
            document = entities.get(document_id(tenant, entity_id))
            if (
                document is not None
                and document.get("groupId") == tenant
                and (entity_type is None or document.get("type") == entity_type)
                and (include_deleted or document.get("deletedAt") is None)
            ):
                found[document["id"]] = to_record(document)
        return found

    async def list_page(
        self,
        spec: QuerySpec[L],
        tenant: str,
        request: L,
        *,
        after: Keyset | None,
        limit: int,
        deadline: float,
    ) -> Page:
        check_deadline(deadline)
        page = self._page(spec, tenant, request, after, limit)
        if isinstance(request, ConnectionsList) and request.withEntities:
            return await self._with_entities(tenant, page, request.includeDeleted, deadline)
        return page

    async def search_entities(
        self, tenant: str, request: EntitiesSearch, *, limit: int, deadline: float
    ) -> list[Document]:
        check_deadline(deadline)
        matches = ENTITIES_SEARCH.watch
        assert matches is not None
        # The candidates in the MongoDB adapter's index order: by the first word starting
        # with the longest term, then newest first.
        longest = max(request.terms, key=len)
        candidates = [
            document
            for document in self._of("entities", tenant)
            if matches.matches(request, to_record(document))
        ]

        def first_word(document: Document) -> bytes:
            words: list[str] = [w for w in document[NAME_TERMS] if w.startswith(longest)]
            return min(words).encode()

        candidates.sort(key=lambda document: str(document["_id"]).encode(), reverse=True)
        candidates.sort(key=lambda document: document.get("createdAt", 0), reverse=True)
        candidates.sort(key=first_word)
        ranked = rank(request.terms, candidates[:_MAX_CANDIDATES])
        return [to_record(document) for document in ranked[:limit]]

    async def _with_entities(
        self, tenant: str, page: Page, include_deleted: bool, deadline: float
    ) -> Page:
        # Each connection with `fromEntity`/`toEntity`: null where it has not arrived.
        ids = [item[side] for item in page.items for side in ("fromEntityId", "toEntityId")]
        entities = await self.get_entities(
            tenant, ids, include_deleted=include_deleted, deadline=deadline
        )
        items = [
            {
                **item,
                "fromEntity": entities.get(item["fromEntityId"]),
                "toEntity": entities.get(item["toEntityId"]),
            }
            for item in page.items
        ]
        return Page(items, page.next)

    async def traverse(
        self,
        tenant: str,
        start_id: str,
        *,
        direction: Direction,
        relationship_types: Sequence[str] | None,
        depth: int,
        limit: int,
        deadline: float,
    ) -> Walk:
        check_deadline(deadline)

        async def hop(
            near: str, frontier: Sequence[str], taken: Collection[str], room: int
        ) -> list[Document]:
            edges = [
                document
                for document in self._of("connections", tenant)
                if document.get(near) in frontier
                and document.get("deletedAt") is None
                and (
                    relationship_types is None
                    or document.get("relationshipType") in relationship_types
                )
                and document["_id"] not in taken
            ]
            edges.sort(key=lambda document: str(document["_id"]).encode(), reverse=True)
            edges.sort(key=lambda document: _value_rank(document.get("createdAt")), reverse=True)
            return edges[: room + 1]

        async def lookup(ids: Sequence[str]) -> dict[str, Document]:
            return await self.get_entities(tenant, ids, deadline=deadline)

        return await walk(
            start_id, direction=direction, depth=depth, limit=limit, hop=hop, lookup=lookup
        )

    async def count_by(
        self,
        tenant: str,
        collection: CollectionName,
        group_by: str,
        *,
        include_deleted: bool = False,
        deadline: float,
    ) -> list[Document]:
        check_deadline(deadline)
        if group_by not in GROUP_BY_FIELDS.get(collection, ()):
            raise ValueError(f"{collection} cannot be grouped by {group_by!r}")
        counts: Counter[Any] = Counter(
            document.get(group_by)
            for document in self._of(collection, tenant)
            if include_deleted or document.get("deletedAt") is None
        )
        rows = sorted(counts.items(), key=lambda row: _value_rank(row[0]))
        rows.sort(key=lambda row: row[1], reverse=True)
        return [{"value": value, "count": count} for value, count in rows]

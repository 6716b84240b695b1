"""Keyset pages: one index range walk per page, ordered by (sort key, `_id`).

A page is an aggregation pipeline of two `$match` stages:

1. the *index stage*: `groupId`, the equalities of the chosen index and one range on its
   sort key. Nothing else, because that is exactly what an index prefix can answer, on
   mongod and on SecantusDB alike (SecantusDB plans only a leading `$match` of equalities
   plus one range and otherwise scans the collection);
2. the *residual stage*: every other condition (soft deletes, equalities the index does not
   hold, metadata filters, the tie-break on `_id` at the cursor). mongod merges the two
   stages into one query; SecantusDB applies the second to what the index returned.

Values placed here come from validated request models or from a decoded cursor: scalars
only, never objects, so none of them can act as an operator.
"""

from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from contracts.matching import SortValue, sort_key
from contracts.queries import ListQuery
from services.store.keys import to_record
from services.store.mongodb.indexes import KeysetIndex
from services.store.port import Document, Keyset, Page


@dataclass(frozen=True, slots=True)
class Bound:
    value: SortValue
    inclusive: bool


@dataclass(frozen=True, slots=True)
class Span:
    """The range of sort-key values a request asks for (`None`: unbounded)."""

    lower: Bound | None = None
    upper: Bound | None = None


def _tighter_lower(a: Bound | None, b: Bound) -> Bound:
    if a is None or sort_key(b.value) > sort_key(a.value):
        return b
    if sort_key(b.value) == sort_key(a.value):
        return Bound(a.value, a.inclusive and b.inclusive)
    return a


def _tighter_upper(a: Bound | None, b: Bound) -> Bound:
    if a is None or sort_key(b.value) < sort_key(a.value):
        return b
    if sort_key(b.value) == sort_key(a.value):
        return Bound(a.value, a.inclusive and b.inclusive)
    return a


def _range(span: Span, sort_type: type[SortValue]) -> dict[str, SortValue]:
    # The index stage always holds a range on the sort key, even an unbounded one: that
    # names a single index (the one whose next key is the sort key) instead of leaving the
    # planner to pick any index with the same equalities.
    lower = span.lower or Bound(0 if sort_type is int else "", True)
    if sort_type is int:
        return span_condition(Span(_exclusive(lower, -1), span.upper and _exclusive(span.upper, 1)))
    return span_condition(Span(lower, span.upper))


def _exclusive(bound: Bound, step: int) -> Bound:
    # SecantusDB 0.7.0b3 drops the entries equal to an inclusive bound at the far end of a
    # compound index's scan (`$gte` on a descending key, `$lte` on an ascending one), so
    # integer bounds are written exclusive: `>= v` as `> v - 1`, the same set of integers.
    if bound.inclusive and isinstance(bound.value, int):
        return Bound(bound.value + step, False)
    return bound


def span_condition(span: Span) -> dict[str, SortValue]:
    """`span` as a MongoDB range condition (empty when unbounded)."""
    condition: dict[str, SortValue] = {}
    if span.lower is not None:
        condition["$gte" if span.lower.inclusive else "$gt"] = span.lower.value
    if span.upper is not None:
        condition["$lte" if span.upper.inclusive else "$lt"] = span.upper.value
    return condition


def choose_index(
    indexes: Sequence[KeysetIndex], sort: str, equalities: Mapping[str, Any]
) -> KeysetIndex:
    """The index sorted by `sort` that pins the most of the requested equalities."""
    usable = [
        index
        for index in indexes
        if index.sort == sort and set(index.equalities) <= set(equalities)
    ]
    if not usable:
        raise LookupError(f"no index sorted by {sort!r} for {sorted(equalities)}")
    # max() keeps the first of equals: declaration order breaks ties.
    return max(usable, key=lambda index: len(index.equalities))


@dataclass(frozen=True, slots=True)
class KeysetQuery:
    """A page request in storage terms: what to match, where to start, how many."""

    tenant: str
    sort: str
    sort_type: type[SortValue]
    equalities: Mapping[str, Any]
    residual: Mapping[str, Any]
    span: Span
    after: Keyset | None
    limit: int


def keyset_pipeline(
    indexes: Sequence[KeysetIndex], query: KeysetQuery
) -> tuple[KeysetIndex, list[Document]]:
    """The chosen index and the pipeline that reads one page (`limit + 1` documents)."""
    index = choose_index(indexes, query.sort, query.equalities)
    direction = index.direction
    span = query.span
    residual: Document = {
        field: value for field, value in query.equalities.items() if field not in index.equalities
    }
    residual.update(query.residual)
    if query.after is not None:
        at = Bound(query.after.value, True)
        if direction < 0:
            span = Span(span.lower, _tighter_upper(span.upper, at))
            seen = {"$gte": query.after.last_id}
        else:
            span = Span(_tighter_lower(span.lower, at), span.upper)
            seen = {"$lte": query.after.last_id}
        # Within the cursor's sort value, skip what the previous pages returned.
        residual["$nor"] = [{query.sort: query.after.value, "_id": seen}]
    stage: Document = {"groupId": query.tenant}
    stage.update({field: query.equalities[field] for field in index.equalities})
    stage[query.sort] = _range(span, query.sort_type)
    pipeline: list[Document] = [{"$match": stage}]
    if residual:
        pipeline.append({"$match": residual})
    pipeline.append({"$sort": {query.sort: direction, "_id": direction}})
    pipeline.append({"$limit": query.limit + 1})
    return index, pipeline


async def read_page(
    collection: AsyncCollection[Document], indexes: Sequence[KeysetIndex], query: KeysetQuery
) -> Page:
    _index, pipeline = keyset_pipeline(indexes, query)
    cursor = await collection.aggregate(pipeline)
    documents = await cursor.to_list(None)
    more = len(documents) > query.limit
    documents = documents[: query.limit]
    last = documents[-1] if more else None
    return Page(
        items=[to_record(document) for document in documents],
        next=Keyset(last[query.sort], last["_id"]) if last is not None else None,
    )


L_contra = TypeVar("L_contra", bound=ListQuery, contravariant=True)


class PageRead(Protocol[L_contra]):
    """A keyset list query's read: one page of what its request matches."""

    def __call__(
        self,
        database: AsyncDatabase[Document],
        tenant: str,
        request: L_contra,
        *,
        after: Keyset | None,
        limit: int,
    ) -> Awaitable[Page]: ...

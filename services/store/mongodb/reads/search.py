"""Entity name search (`entities.search`): word and prefix matches, ranked, index-backed.

Entities store the folded words of their name in `nameTerms` (contracts.search_terms), a
multikey field behind `SEARCH_INDEXES`. A search is two reads:

1. *Candidates*: one walk of the search index over the words that start with the longest
   search term (the most selective one a request can name without reading anything):
   `{groupId, type?, nameTerms: {$gte: term, $lt: successor}}`, a plain range built from
   the folded term, never a regular expression. Every term (that one included) is then
   checked with `$elemMatch` on the same range, so one word of the name has to match it
   (a range on an array without `$elemMatch` would also accept two words that each meet
   one bound). Only `id`, `createdAt` and `nameTerms` of at most `MAX_CANDIDATES`
   entities come back. Within one word the index holds the newest first, and words in
   order, so the exact word comes first, then the longer words.
2. *Ranking* in Python, then the page's entities by `_id`.

Ranking: more search terms matched as whole words first, then the newest (`createdAt`),
then the id, descending. Past `MAX_CANDIDATES` matches the ranking covers the first
candidates in index order: every exact match of the longest term, newest first, before any
longer word.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from pymongo.asynchronous.database import AsyncDatabase

from services.store.keys import NAME_TERMS
from services.store.mongodb.indexes import SEARCH_INDEXES, SearchIndex
from services.store.mongodb.reads.entities import LIVE, get_entities
from services.store.port import Document
from services.store.search_rank import rank

MAX_CANDIDATES: Final = 1000
_MAX_CODE_POINT: Final = 0x10FFFF
_SURROGATES: Final = range(0xD800, 0xE000)


def successor(prefix: str) -> str:
    """The least string above every string that starts with `prefix` (code point order).

    MongoDB compares strings by their UTF-8 bytes without a collation, which is code point
    order, so `{$gte: prefix, $lt: successor(prefix)}` is exactly "starts with `prefix`".
    (Appending "\\uffff" is not: a 4-byte character sorts above it.)
    """
    chars = list(prefix)
    while chars:
        point = ord(chars.pop()) + 1
        if point in _SURROGATES:
            point = _SURROGATES.stop
        if point <= _MAX_CODE_POINT:
            return "".join(chars) + chr(point)
    raise ValueError("no string follows every string with this prefix")


def _starts_with(term: str) -> Document:
    return {"$gte": term, "$lt": successor(term)}


@dataclass(frozen=True, slots=True)
class Search:
    """A search in storage terms: folded terms and filters."""

    tenant: str
    terms: Sequence[str]
    entity_type: str | None = None
    status: str | None = None


def candidates_pipeline(search: Search) -> tuple[SearchIndex, list[Document]]:
    """The index walked and the pipeline of at most `MAX_CANDIDATES` candidates."""
    if not search.terms:
        raise ValueError("a search needs at least one term")
    index = SEARCH_INDEXES[1] if search.entity_type is not None else SEARCH_INDEXES[0]
    longest = max(search.terms, key=len)
    stage: Document = {"groupId": search.tenant}
    if search.entity_type is not None:
        stage["type"] = search.entity_type
    stage[NAME_TERMS] = _starts_with(longest)
    residual: Document = dict(LIVE)
    if search.status is not None:
        residual["status"] = search.status
    residual["$and"] = [{NAME_TERMS: {"$elemMatch": _starts_with(t)}} for t in search.terms]
    return index, [
        {"$match": stage},
        {"$match": residual},
        {"$limit": MAX_CANDIDATES},
        {"$project": {"_id": 1, "id": 1, "createdAt": 1, NAME_TERMS: 1}},
    ]


async def search_entities(
    database: AsyncDatabase[Document], search: Search, *, limit: int
) -> list[Document]:
    """The best `limit` live entities whose name matches every term, best first."""
    _index, pipeline = candidates_pipeline(search)
    cursor = await database["entities"].aggregate(pipeline)
    ranked = rank(search.terms, await cursor.to_list(None))[:limit]
    ids = [candidate["id"] for candidate in ranked]
    # By `_id`: a point lookup each. An entity deleted in between is left out.
    found = await get_entities(database, search.tenant, ids, entity_type=search.entity_type)
    return [found[entity_id] for entity_id in ids if entity_id in found]

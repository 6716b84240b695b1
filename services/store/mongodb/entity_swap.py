"""Swapping merged entities in: each is written only if its `rev` is still the one it was
merged from (entity_fold.py), so that replicas writing the same entity never lose each
other's commands; a writer that finds another `rev` merges again (writer.py).

- A document that was missing is inserted, all of them in one `insert_many`: a plain
  insert is far cheaper than an upsert on SecantusDB, and one that collides on `_id`
  (another writer inserted it first) is a conflict.
- A document that exists is replaced by an update on `_id` alone whose pipeline checks
  the `rev` and replaces the document only if it is the expected one, atomically, as
  one statement: a compare-and-swap. SecantusDB plans a filter of `_id` alone as a point
  lookup, where `{_id, rev}` is planned against every index (22 % more per document,
  `python -m benchmarks.store_costs`). When fewer documents changed than were sent, the
  ones not stored as sent are read back: those are the conflicts.

Not a transaction, though one would cost SecantusDB less still: a replica killed between
a transaction's writes and its commit leaves those entities locked until the server's
transaction lifetime ends (60 s by default), and every other replica's batch touching
them waits that long (docs/benchmarks.md). Here every statement commits on its own.
"""

from collections.abc import Sequence
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from services.store.entity_fold import EntityFold
from services.store.mongodb.failures import bulk_write_errors

Document = dict[str, Any]


def compare_and_swap(key: str, expected_rev: int, document: Document) -> UpdateOne:
    """Replace the document `key` with `document` if its `rev` is `expected_rev`."""
    replacement = {"$cond": [{"$eq": ["$rev", expected_rev]}, {"$literal": document}, "$$ROOT"]}
    return UpdateOne({"_id": key}, [{"$replaceWith": replacement}])


class EntitySwap:
    def __init__(self, entities: AsyncCollection[Document]) -> None:
        self._entities = entities

    async def swap(self, fold: EntityFold) -> tuple[set[str], dict[str, str]]:
        """Write the fold's documents; return the keys another writer changed meanwhile
        (to merge again) and the keys the store refused (bad input), with why."""
        missing = [key for key in fold.documents if fold.expected_rev[key] is None]
        existing = {key: rev for key, rev in fold.expected_rev.items() if rev is not None}
        conflicts, failed = await self._insert(fold, missing)
        if existing:
            lost, refused = await self._replace(fold, existing)
            conflicts |= lost
            failed |= refused
        return conflicts, failed

    async def _insert(
        self, fold: EntityFold, keys: Sequence[str]
    ) -> tuple[set[str], dict[str, str]]:
        if not keys:
            return set(), {}
        try:
            await self._entities.insert_many([fold.documents[key] for key in keys], ordered=False)
        except BulkWriteError as error:
            collided, failed = bulk_write_errors(error)
            return {keys[i] for i in collided}, {keys[i]: why for i, why in failed.items()}
        return set(), {}

    async def _replace(
        self, fold: EntityFold, revs: dict[str, int]
    ) -> tuple[set[str], dict[str, str]]:
        keys = list(revs)
        operations = [compare_and_swap(key, revs[key], fold.documents[key]) for key in keys]
        failed: dict[str, str] = {}
        try:
            modified = (await self._entities.bulk_write(operations, ordered=False)).modified_count
        except BulkWriteError as error:
            _, refused = bulk_write_errors(error)
            failed = {keys[i]: why for i, why in refused.items()}
            modified = error.details.get("nModified", 0)
        written = [key for key in keys if key not in failed]
        if modified == len(written):
            return set(), failed
        # Each replacement changes `rev`, so an unchanged document is one whose `rev` was
        # another: read back which. One stored exactly as sent counts as written.
        found = self._entities.find({"_id": {"$in": written}}, batch_size=len(written) + 1)
        stored = {document["_id"]: document async for document in found}
        return {key for key in written if stored.get(key) != fold.documents[key]}, failed

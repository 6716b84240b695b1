"""Swapping merged entities in: each is written only if its `rev` is still the one it was
merged from (entity_fold.py), so that replicas writing the same entity never lose each
other's commands; a writer that finds another `rev` merges again (writer.py).

- A document that was missing is inserted, all of them in one `insert_many`: a plain
  insert is far cheaper than an upsert on SecantusDB, and one that collides on `_id`
  (another writer inserted it first) is a conflict.
- Documents that exist are replaced in one transaction that reads their `rev` first and
  replaces the unchanged ones by `_id`. Snapshot isolation makes the read a guard: a
  writer that changes one of them after it makes the transaction fail with a write
  conflict (TransientTransactionError), and they all merge again. One commit for the
  lot, and a replacement by `_id` alone, cost SecantusDB about 60 % of replacements
  guarded by `rev` in their filters, each its own commit (`python -m
  benchmarks.store_costs`); on mongod the transaction saves the journal waits.
- Without transactions (a standalone server), or when the transaction fails for another
  reason (a document the store refuses), each replacement is guarded by `rev` in its
  filter instead, and upserts: one that finds another `rev` collides on `_id`, a
  conflict again, and a refused document is reported on its own.
"""

import logging
from collections.abc import Sequence
from typing import Any, Final

from pymongo import ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, OperationFailure

from services.store.entity_fold import EntityFold
from services.store.failures import bulk_write_errors

log = logging.getLogger(__name__)

Document = dict[str, Any]
# mongod's answer to a transaction on a server that is not a replica set member.
_ILLEGAL_OPERATION: Final = 20


class EntitySwap:
    def __init__(self, entities: AsyncCollection[Document]) -> None:
        self._entities = entities
        # False once the server said it has no transactions.
        self._transactions = True

    async def swap(self, fold: EntityFold) -> tuple[set[str], dict[str, str]]:
        """Write the fold's documents; return the keys another writer changed meanwhile
        (to merge again) and the keys the store refused (bad input), with why."""
        missing = [key for key in fold.documents if fold.expected_rev[key] is None]
        existing = [key for key in fold.documents if fold.expected_rev[key] is not None]
        conflicts, failed = await self._insert(fold, missing)
        if existing:
            lost, refused = await self._replace(fold, existing)
            conflicts |= lost
            failed |= refused
        return conflicts, failed

    async def _insert(self, fold: EntityFold, keys: list[str]) -> tuple[set[str], dict[str, str]]:
        if not keys:
            return set(), {}
        try:
            await self._entities.insert_many([fold.documents[key] for key in keys], ordered=False)
        except BulkWriteError as error:
            collided, failed = bulk_write_errors(error)
            return {keys[i] for i in collided}, {keys[i]: why for i, why in failed.items()}
        return set(), {}

    async def _replace(self, fold: EntityFold, keys: list[str]) -> tuple[set[str], dict[str, str]]:
        if self._transactions:
            try:
                return await self._replace_in_transaction(fold, keys), {}
            except OperationFailure as error:
                if error.has_error_label("TransientTransactionError"):
                    return set(keys), {}  # another writer changed one of them: merge again
                if error.code == _ILLEGAL_OPERATION:
                    self._transactions = False
                    log.info("the store has no transactions: entity replacements guarded by rev")
                else:
                    log.warning("entity replacements fall back to guarded writes: %s", error)
        return await self._replace_guarded(fold, keys)

    async def _replace_in_transaction(self, fold: EntityFold, keys: Sequence[str]) -> set[str]:
        """Replace the documents whose `rev` is unchanged; return the others' keys."""
        client = self._entities.database.client
        async with (
            client.start_session() as session,
            await session.start_transaction(write_concern=self._entities.write_concern),
        ):
            # One more than can match: a reply filling batchSize exactly leaves the
            # cursor open for an empty getMore.
            found = self._entities.find(
                {"_id": {"$in": list(keys)}}, {"rev": 1}, session=session, batch_size=len(keys) + 1
            )
            revs = {document["_id"]: document.get("rev") async for document in found}
            unchanged = [key for key in keys if key in revs and revs[key] == fold.expected_rev[key]]
            if unchanged:
                replacements = [ReplaceOne({"_id": key}, fold.documents[key]) for key in unchanged]
                await self._entities.bulk_write(replacements, ordered=False, session=session)
        return set(keys) - set(unchanged)

    async def _replace_guarded(
        self, fold: EntityFold, keys: Sequence[str]
    ) -> tuple[set[str], dict[str, str]]:
        guarded = [{"_id": key, "rev": fold.expected_rev[key]} for key in keys]
        operations = [
            ReplaceOne(guard, fold.documents[key], upsert=True)
            for guard, key in zip(guarded, keys, strict=True)
        ]
        try:
            await self._entities.bulk_write(operations, ordered=False)
        except BulkWriteError as error:
            collided, failed = bulk_write_errors(error)
            return {keys[i] for i in collided}, {keys[i]: why for i, why in failed.items()}
        return set(), {}

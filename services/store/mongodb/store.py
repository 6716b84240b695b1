"""The MongoDB adapter of the store port's reads (services/store/port.py).

Each read runs under `pymongo.timeout` with what is left of its deadline, so every store
command carries it as `maxTimeMS` and the server stops working on an abandoned read too;
PyMongo's failures leave here as the port's errors (services/store/errors.py).
"""

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import pymongo
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from contracts.ontology import COLLECTIONS, Collection
from contracts.queries import EntitiesSearch, ListQuery, QuerySpec
from services.store.errors import StoreTimeoutError, StoreUnavailableError
from services.store.mongodb import reads
from services.store.mongodb.reads.search import Search
from services.store.port import Direction, Document, Keyset, Page, Walk

L = TypeVar("L", bound=ListQuery)


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """PyMongo's errors inside become the port's: `StoreTimeoutError` for one that timed
    out, else `StoreUnavailableError`."""
    try:
        yield
    except PyMongoError as error:
        if error.timeout:
            raise StoreTimeoutError(str(error)) from error
        raise StoreUnavailableError(str(error)) from error


@contextlib.contextmanager
def within(deadline: float) -> Iterator[None]:
    """Store commands inside carry what is left of `deadline` (event loop clock) as
    `maxTimeMS`; PyMongo's errors are translated."""
    left = deadline - asyncio.get_running_loop().time()
    if left <= 0:
        raise StoreTimeoutError("the deadline passed before the store was asked")
    with translated(), pymongo.timeout(left):
        yield


class MongoReads:
    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self._database = database

    async def get_entities(
        self,
        tenant: str,
        ids: Sequence[str],
        *,
        entity_type: str | None = None,
        include_deleted: bool = False,
        deadline: float,
    ) -> dict[str, Document]:
        with within(deadline):
            return await reads.get_entities(
                self._database,
                tenant,
                ids,
                entity_type=entity_type,
                include_deleted=include_deleted,
            )

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
        read = reads.PAGE_READS[spec.name]
        with within(deadline):
            return await read(self._database, tenant, request, after=after, limit=limit)

    async def search_entities(
        self, tenant: str, request: EntitiesSearch, *, limit: int, deadline: float
    ) -> list[Document]:
        search = Search(tenant, request.terms, request.type, request.status)
        with within(deadline):
            return await reads.search_entities(self._database, search, limit=limit)

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
        with within(deadline):
            return await reads.traverse(
                self._database,
                tenant,
                start_id,
                direction=direction,
                relationship_types=relationship_types,
                depth=depth,
                limit=limit,
            )

    async def count_by(
        self,
        tenant: str,
        collection: Collection,
        group_by: str,
        *,
        include_deleted: bool = False,
        deadline: float,
    ) -> list[Document]:
        with within(deadline):
            return await reads.count_by(
                self._database, tenant, collection, group_by, include_deleted=include_deleted
            )


class MongoTenantRecords:
    """`TenantRecords` over MongoDB: every index leads with `groupId`, so each count and
    each delete is an index range."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self._database = database

    async def count(self, tenant: str) -> dict[str, int]:
        with translated():
            return {
                name: await self._database[name].count_documents({"groupId": tenant})
                for name in COLLECTIONS
            }

    async def erase(self, tenant: str) -> dict[str, int]:
        erased: dict[str, int] = {}
        with translated():
            for name in COLLECTIONS:
                result = await self._database[name].delete_many({"groupId": tenant})
                erased[name] = result.deleted_count
        return erased

"""Connections to MongoDB: the service's store (one client, the database with the
configured write concern, every index declared, the port's reads and writes over it), the
platform owner's, and whether a server answers at all."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from pymongo import AsyncMongoClient, WriteConcern
from pymongo.errors import PyMongoError

from services.security.credentials import mongo_credentials
from services.security.layout import SecureLayout
from services.settings import Settings
from services.store.errors import StoreUnavailableError
from services.store.mongodb.indexes import ensure_indexes
from services.store.mongodb.store import MongoReads, MongoTenantRecords
from services.store.mongodb.writer import StoreWriter

_ADMIN_SELECTION_TIMEOUT_MS: Final = 5000


def write_concern(settings: Settings) -> WriteConcern:
    value = settings.mongodb_write_concern
    return WriteConcern(w=int(value) if value.isdigit() else value, j=settings.mongodb_journal)


class MongoStore:
    """The store port over one MongoDB client (`open_store` makes one)."""

    def __init__(self, client: AsyncMongoClient[dict[str, Any]], settings: Settings) -> None:
        self._client = client
        self.database = client.get_database(
            settings.mongodb_db, write_concern=write_concern(settings)
        )
        self.reads = MongoReads(self.database)
        self.writes = StoreWriter(self.database)

    async def ping(self) -> object:
        """A round trip to the server (the health check's); raises PyMongo's error as is,
        so the check names what failed."""
        return await self._client.admin.command("ping")

    async def close(self) -> None:
        await self._client.close()


async def open_store(settings: Settings) -> MongoStore:
    """Connect and declare the indexes; `StoreUnavailableError` (its first line PyMongo's)
    if the server does not answer within `mongodb_timeout_s`."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_uri,
        **mongo_credentials(settings),
        serverSelectionTimeoutMS=int(settings.mongodb_timeout_s * 1000),
        tz_aware=False,
    )
    store = MongoStore(client, settings)
    try:
        await ensure_indexes(store.database)
    except PyMongoError as error:
        await store.close()
        raise StoreUnavailableError(str(error)) from error
    return store


@asynccontextmanager
async def admin_records(
    layout: SecureLayout, settings: Settings
) -> AsyncIterator[MongoTenantRecords]:
    """Tenants' records as the platform owner's commands reach them: as
    `ONE_MONGODB_URI`/`ONE_MONGODB_USER` say, else where `dev --secure` last ran MongoDB,
    as the layout's service user."""
    uri, options = settings.mongodb_uri, mongo_credentials(settings)
    saved = layout.saved_mongo() if layout.secured else None
    if saved is not None:
        if "mongodb_uri" not in settings.model_fields_set and saved.uri is not None:
            uri = saved.uri
        if not options:
            options = {"username": saved.service_user, "password": saved.service_password}
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        uri, serverSelectionTimeoutMS=_ADMIN_SELECTION_TIMEOUT_MS, **options
    )
    try:
        yield MongoTenantRecords(client[settings.mongodb_db])
    finally:
        await client.close()


async def answers(uri: str, timeout_s: float = 1.0) -> bool:
    """Whether a MongoDB server at `uri` answers a ping within `timeout_s` or so."""
    timeout_ms = int(timeout_s * 1000)
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    try:
        await client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        await client.close()

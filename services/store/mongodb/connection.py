"""The service's MongoDB store: one client, the database with the configured write concern,
every index declared, and the port's reads and writes over it."""

from typing import Any

from pymongo import AsyncMongoClient, WriteConcern
from pymongo.errors import PyMongoError

from services.security.credentials import mongo_credentials
from services.settings import Settings
from services.store.errors import StoreUnavailableError
from services.store.mongodb.indexes import ensure_indexes
from services.store.mongodb.store import MongoReads
from services.store.mongodb.writer import StoreWriter


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

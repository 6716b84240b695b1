"""The MongoDB adapter passes the store port's suite, on the real server."""

from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.store.mongodb.indexes import ensure_indexes
from services.store.mongodb.store import MongoReads
from services.store.mongodb.writer import StoreWriter
from tests.services.store.port_suite import Port, StorePortSuite


@pytest.mark.integration
class TestMongoStore(StorePortSuite):
    @pytest.fixture
    async def port(self, database: AsyncDatabase[dict[str, Any]]) -> Port:
        await ensure_indexes(database)
        return Port(MongoReads(database), StoreWriter(database))

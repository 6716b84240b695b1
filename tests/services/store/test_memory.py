"""The in-memory store passes the store port's suite."""

import pytest

from services.store.memory.reads import MemoryReads
from services.store.memory.tables import empty_tables
from services.store.memory.writes import MemoryWrites
from tests.services.store.port_suite import Port, StorePortSuite


class TestMemoryStore(StorePortSuite):
    @pytest.fixture
    def port(self) -> Port:
        tables = empty_tables()
        return Port(MemoryReads(tables), MemoryWrites(tables))

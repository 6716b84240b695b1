"""The in-memory store passes the store port's suite."""

import pytest

from tests.services.store.memory_port import memory_port
from tests.services.store.port_suite import Port, StorePortSuite


class TestMemoryStore(StorePortSuite):
    @pytest.fixture
    def port(self) -> Port:
        return memory_port()

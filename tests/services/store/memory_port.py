"""An empty in-memory store behind the port, for tests of query and watch policy."""

from services.store.memory.reads import MemoryReads
from services.store.memory.records import MemoryTenantRecords
from services.store.memory.tables import Tables, empty_tables
from services.store.memory.writes import MemoryWrites
from tests.services.store.port_suite import Port


def memory_port(reads: type[MemoryReads] = MemoryReads, tables: Tables | None = None) -> Port:
    """The store's reads (of class `reads`, a subclass to observe them) and writes."""
    tables = empty_tables() if tables is None else tables
    return Port(reads(tables), MemoryWrites(tables), MemoryTenantRecords(tables))

"""`TenantRecords` over the in-memory tables."""

from services.store.memory.tables import Tables


class MemoryTenantRecords:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def count(self, tenant: str) -> dict[str, int]:
        return {
            name: sum(1 for document in table.values() if document.get("groupId") == tenant)
            for name, table in self._tables.items()
        }

    async def erase(self, tenant: str) -> dict[str, int]:
        erased: dict[str, int] = {}
        for name, table in self._tables.items():
            keys = [key for key, document in table.items() if document.get("groupId") == tenant]
            for key in keys:
                del table[key]
            erased[name] = len(keys)
        return erased

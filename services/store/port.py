"""The store as the query, watch and ingest sides see it: what they read and write.

Pure (no driver): the MongoDB adapter (services/store/mongodb/) and the in-memory one
(services/store/memory/) implement these protocols, and one test suite
(tests/services/store/port_suite.py) holds both to them. Every read is tenant-scoped and
hides soft-deleted records unless asked for; every read takes a `deadline` on the event
loop's clock, and raises `StoreTimeoutError` past it (services/store/errors.py).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from contracts.matching import SortValue
from contracts.ontology import Collection
from contracts.outcomes import OutcomeRecord
from contracts.queries import EntitiesSearch, ListQuery, QuerySpec
from services.store.stored_change import StoredChange
from services.store.write_request import WriteRequest

Document = dict[str, Any]
Direction = Literal["out", "in", "both"]
L = TypeVar("L", bound=ListQuery)


@dataclass(frozen=True, slots=True)
class Keyset:
    """Where a page ended: the last item's sort value and its document's `_id`."""

    value: SortValue
    last_id: str


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Document]
    # Set when more items follow: where the next page starts.
    next: Keyset | None


@dataclass(frozen=True, slots=True)
class Walk:
    nodes: list[Document]
    edges: list[Document]
    truncated: bool


@dataclass(slots=True)
class BatchOutcome:
    """What became of a batch: changes to publish, requests the store refused, and what
    each stored request did to its record (its outcome, contracts/outcomes.py)."""

    changes: list[StoredChange] = field(default_factory=list)
    # Index into the batch → why the store refused it (bad input: never retried).
    failed: dict[int, str] = field(default_factory=dict)
    # Index into the batch → the record it wrote, for every request not failed.
    records: dict[int, OutcomeRecord] = field(default_factory=dict)


class StoreReads(Protocol):
    """Tenant-scoped reads for the query and watch sides."""

    async def get_entities(
        self,
        tenant: str,
        ids: Sequence[str],
        *,
        entity_type: str | None = None,
        include_deleted: bool = False,
        deadline: float,
    ) -> dict[str, Document]:
        """The entities among `ids` that exist (and match), keyed by id."""
        ...

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
        """One page of the keyset list `spec` names, in its spec's order (`watch.order`):
        what its filter matches, after `after`, at most `limit` items."""
        ...

    async def search_entities(
        self, tenant: str, request: EntitiesSearch, *, limit: int, deadline: float
    ) -> list[Document]:
        """The best `limit` live entities whose name matches every term, best first."""
        ...

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
        """At most `limit` live edges reachable in `depth` hops, and the entities they join."""
        ...

    async def count_by(
        self,
        tenant: str,
        collection: Collection,
        group_by: str,
        *,
        include_deleted: bool = False,
        deadline: float,
    ) -> list[Document]:
        """`[{value, count}]`, most frequent first."""
        ...


class StoreWrites(Protocol):
    """The writes ingest makes: a batch of validated commands at a time."""

    async def write(self, batch: Sequence[WriteRequest]) -> BatchOutcome:
        """Write the batch; raise `StoreUnavailableError` if it must be retried as a whole."""
        ...


class TenantRecords(Protocol):
    """A tenant's records in every collection, for the platform owner's `tenant` commands;
    raise `StoreUnavailableError` when the store cannot answer."""

    async def count(self, tenant: str) -> dict[str, int]:
        """How many records `tenant` has, per collection (soft-deleted ones included)."""
        ...

    async def erase(self, tenant: str) -> dict[str, int]:
        """Delete every record of `tenant`; how many went, per collection."""
        ...

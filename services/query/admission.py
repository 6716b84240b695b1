"""Fair admission: what one tenant may hold of a replica, and store slots taken in turn.

Two pieces, used by the query responder, the watch responder and watch re-evaluation
alike (one rule for every path that reads the store for a tenant):

- **`Admission`** counts the requests each tenant has in hand on this replica. A request
  beyond its tenant's `max_concurrent_queries` (its quota, from the tenant directory), or
  beyond the replica's own `query_max_pending`, is refused at once with `OverloadedError`:
  the caller answers `timeout` with `details.reason = "overloaded"` before anything is
  read, so a tenant that floods the replica only ever waits for itself.
- **`FairSlots`** are the replica's store slots (`query_max_concurrency` for queries,
  `watch_max_concurrency` for re-evaluations). A free slot is granted to the waiting
  tenants in turn (round robin over tenants, first come first served within a tenant):
  a tenant with hundreds of requests waiting gets one slot per turn like any other, so
  another tenant's request waits for at most one release per waiting tenant, never
  behind the whole queue of the busy one.

Pure asyncio bookkeeping (no I/O), so the policy is tested with fakes and plain tasks.
"""

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from contracts.errors import OVERLOADED
from contracts.tenancy import TenantQuotas
from services.settings import Settings

Scope = Literal["tenant", "replica"]


class OverloadedError(Exception):
    """A request refused on admission: its tenant (or the replica) holds its limit."""

    def __init__(self, tenant: str, scope: Scope, limit: int, in_hand: int) -> None:
        whose = f"tenant {tenant!r}" if scope == "tenant" else "this replica"
        super().__init__(f"overloaded: {whose} has {in_hand} requests in hand; try again shortly")
        self.tenant = tenant
        self.scope: Scope = scope
        self.limit = limit
        self.in_hand = in_hand

    @property
    def details(self) -> dict[str, Any]:
        """What a client acts on: back off (`scope` says whose limit it met)."""
        return {"reason": OVERLOADED, "scope": self.scope, "limit": self.limit}


class Admission:
    """Requests in hand per tenant, under its quota and the replica's bound."""

    def __init__(self, quota: Callable[[str], int], max_pending: int) -> None:
        # The tenant's `max_concurrent_queries` (read on every request: a `tenant set`
        # applies to the next request).
        self._quota = quota
        self._max_pending = max_pending
        self._in_hand: Counter[str] = Counter()
        self._total = 0

    def in_hand(self, tenant: str | None = None) -> int:
        return self._total if tenant is None else self._in_hand[tenant]

    def enter(self, tenant: str) -> None:
        """Take a place for one request of `tenant`, or raise `OverloadedError` at once."""
        limit = self._quota(tenant)
        held = self._in_hand[tenant]
        if held >= limit:
            raise OverloadedError(tenant, "tenant", limit, held)
        if self._total >= self._max_pending:
            raise OverloadedError(tenant, "replica", self._max_pending, self._total)
        self._in_hand[tenant] = held + 1
        self._total += 1

    def leave(self, tenant: str) -> None:
        held = self._in_hand[tenant] - 1
        if held < 0:
            raise RuntimeError(f"tenant {tenant!r} left more requests than it entered")
        if held:
            self._in_hand[tenant] = held
        else:
            del self._in_hand[tenant]
        self._total -= 1

    @contextlib.contextmanager
    def holding(self, tenant: str) -> Iterator[None]:
        """A place for the block's duration (raises `OverloadedError` instead of entering)."""
        self.enter(tenant)
        try:
            yield
        finally:
            self.leave(tenant)


@dataclass(slots=True)
class _Waiter:
    tenant: str
    granted: asyncio.Future[None]


class FairSlots:
    """`size` slots; a released slot goes to the next waiting tenant in turn.

    One tenant holds at most `per_tenant` slots while it is the only one reading, and at
    most `busy_share` while another tenant holds a slot, waits for one or has asked for
    one within `recent_s`: a busy
    tenant alone keeps the store busy, and shrinks to its share (as its reads end; none
    is cut off) as soon as somebody else reads. `recent_s` bridges the gaps between one
    requester's requests, so a tenant asking one request after another counts as there
    all along."""

    def __init__(
        self,
        size: int,
        per_tenant: int | None = None,
        *,
        busy_share: int = 1,
        recent_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if size < 1 or busy_share < 1 or (per_tenant is not None and per_tenant < 1):
            raise ValueError("at least one slot")
        self.size = size
        self.per_tenant = size if per_tenant is None else min(per_tenant, size)
        self.busy_share = min(busy_share, self.per_tenant)
        self._recent_s = recent_s
        self._clock = clock
        # Tenant → when it last asked for or gave back a slot (only the recent ones).
        self._seen: dict[str, float] = {}
        self._free = size
        # Per tenant, its waiters in arrival order; `_turns`: tenants with waiters, the
        # next to be served first (a tenant served goes to the back).
        self._waiting: dict[str, deque[_Waiter]] = {}
        self._turns: deque[str] = deque()
        # Slots held now, and slots granted so far, per tenant (for stats and tests).
        self.held: Counter[str] = Counter()
        self.granted: Counter[str] = Counter()

    @property
    def free(self) -> int:
        return self._free

    def waiting(self, tenant: str | None = None) -> int:
        if tenant is None:
            return sum(len(queue) for queue in self._waiting.values())
        return len(self._waiting.get(tenant, ()))

    def share(self, tenant: str) -> int:
        """The most slots `tenant` may hold now."""
        horizon = self._clock() - self._recent_s
        for other, at in list(self._seen.items()):
            if at < horizon:
                del self._seen[other]
        others = (self._seen.keys() | self.held.keys() | self._waiting.keys()) - {tenant}
        return self.busy_share if others else self.per_tenant

    async def acquire(self, tenant: str) -> None:
        """Wait for a slot for `tenant`; cancel-safe (a cancelled waiter takes none)."""
        self._seen[tenant] = self._clock()
        waiter = _Waiter(tenant, asyncio.get_running_loop().create_future())
        queue = self._waiting.get(tenant)
        if queue is None:
            queue = self._waiting[tenant] = deque()
            self._turns.append(tenant)
        queue.append(waiter)
        self._grant()
        try:
            await waiter.granted
        except asyncio.CancelledError:
            if waiter.granted.done() and not waiter.granted.cancelled():
                # Granted as it was cancelled: the slot goes on to the next in turn.
                self.release(tenant)
            else:
                self._drop(waiter)
            raise

    def release(self, tenant: str) -> None:
        self._seen[tenant] = self._clock()
        self.held[tenant] -= 1
        if self.held[tenant] <= 0:
            del self.held[tenant]
        self._free += 1
        self._grant()

    @contextlib.asynccontextmanager
    async def slot(self, tenant: str) -> AsyncIterator[None]:
        await self.acquire(tenant)
        try:
            yield
        finally:
            self.release(tenant)

    def _grant(self) -> None:
        # Tenants holding their share keep their place in line (at the front, in order)
        # for the next release of one of their own slots.
        capped: list[str] = []
        while self._free > 0 and self._turns:
            tenant = self._turns.popleft()
            if self.held[tenant] >= self.share(tenant):
                capped.append(tenant)
                continue
            queue = self._waiting[tenant]
            waiter = queue.popleft()
            if waiter.granted.done():
                # Cancelled, its task not yet told: it takes nothing, and its tenant
                # keeps its turn for its next waiter.
                if queue:
                    self._turns.appendleft(tenant)
                else:
                    del self._waiting[tenant]
                continue
            if queue:
                self._turns.append(tenant)  # the back of the line, behind the others
            else:
                del self._waiting[tenant]
            self._free -= 1
            self.held[tenant] += 1
            self.granted[tenant] += 1
            waiter.granted.set_result(None)
        self._turns.extendleft(reversed(capped))

    def _drop(self, waiter: _Waiter) -> None:
        queue = self._waiting.get(waiter.tenant)
        if queue is None:
            return
        with contextlib.suppress(ValueError):
            queue.remove(waiter)
        if not queue:
            del self._waiting[waiter.tenant]
            self._turns.remove(waiter.tenant)


def query_quota(quotas: Callable[[str], TenantQuotas], default: int) -> Callable[[str], int]:
    """A tenant's `max_concurrent_queries` from its quotas (`TenantDirectory.quotas`)."""
    return lambda tenant: quotas(tenant).max_concurrent_queries or default


def watch_quota(quotas: Callable[[str], TenantQuotas], default: int) -> Callable[[str], int]:
    """A tenant's `max_watches` from its quotas."""
    return lambda tenant: quotas(tenant).max_watches or default


def replica_admission(
    settings: Settings, quotas: Callable[[str], TenantQuotas] | None = None
) -> Admission:
    """The one `Admission` of a replica: its query and watch responders share it.
    Without `quotas` (no tenant directory) every tenant has the deployment's default."""
    default = settings.tenant_max_concurrent_queries
    if quotas is None:
        return Admission(lambda _tenant: default, settings.query_max_pending)
    return Admission(query_quota(quotas, default), settings.query_max_pending)

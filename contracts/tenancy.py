"""Tenants at scale: the names and limits every part of ONE Bus agrees on (no I/O).

- **Quotas** (`TenantQuotas`): what one tenant may hold or use at once. A field left
  `None` takes the deployment's default (`ONE_TENANT_*` settings); `one-bus tenant add/set`
  stores a tenant's own values in the `TENANTS_BUCKET` KV bucket (contracts/subjects.py),
  keyed by tenant.
- **Ingest streams**: in the per-tenant layout each tenant's input lands in a stream of
  its own (`tenant_ingest_stream`), so that its duplicate window and its byte and message
  limits are its own and enforced by nats-server; the shared layout (plain `dev`, no
  tenants registered) keeps one stream for everybody.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.subjects import INGEST_KINDS, kind_wildcard

IngestLayout = Literal["shared", "per_tenant"]


class TenantQuotas(BaseModel):
    """Per-tenant limits; `None` means the deployment's default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Held in the tenant's ingest backlog (stored, not yet taken by ingest). Over it, a
    # publish is refused by JetStream at once (`maximum bytes/messages exceeded`).
    max_backlog_bytes: int | None = Field(default=None, ge=1)
    max_backlog_msgs: int | None = Field(default=None, ge=1)
    # Queries (and watch requests) of the tenant in hand at once on one query replica;
    # beyond, an `overloaded` answer at once.
    max_concurrent_queries: int | None = Field(default=None, ge=1)
    # Live queries the tenant holds at once; beyond, `limit_exceeded`.
    max_watches: int | None = Field(default=None, ge=1)
    # Consumers the tenant may hold on the changes and dead-letter streams.
    max_consumers: int | None = Field(default=None, ge=1)

    def over(self, defaults: "TenantQuotas") -> "TenantQuotas":
        """These quotas, with every field left `None` taken from `defaults`."""
        mine = self.model_dump(exclude_none=True)
        return defaults.model_copy(update=mine)


def tenant_ingest_subjects(tenant: str) -> list[str]:
    """What a tenant's own ingest stream captures: its ingest subjects, nothing else."""
    return [kind_wildcard(tenant, kind) for kind in INGEST_KINDS]

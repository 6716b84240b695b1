"""Service settings, read from `ONE_*` environment variables (pydantic-settings)."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.subjects import (
    CHANGES_STREAM,
    DLQ_STREAM,
    INGEST_CONSUMER,
    INGEST_STREAM,
    WATCH_BUCKET,
)
from contracts.tenancy import IngestLayout, TenantQuotas

# The choices a setting names are defined here, where they are read; the runtime modules
# that act on them import them (settings depends on nothing in the runtime).
EventLoop = Literal["uvloop", "asyncio"]
LogFormat = Literal["text", "json"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ONE_", extra="ignore")

    # One URL, or several separated by commas (the nodes of a cluster): the client tries
    # them in turn at start and on reconnect, so one node down does not stop the service.
    nats_url: str = "nats://127.0.0.1:4222"
    # Who the service is on NATS (docs/security.md): a ConnectionSpec JSON file (what
    # `one-bus dev --secure` writes), or user and password (the password also from a
    # file, for Kubernetes Secrets), inbox prefix and CA. None of them: anonymous, warned.
    nats_credentials_file: Path | None = None
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    nats_password_file: Path | None = None
    nats_inbox_prefix: str | None = None
    nats_tls_ca: str | None = None
    # The identity that answers requests (queries, live queries, discovery), on a second
    # connection: a ConnectionSpec file (`specs/responder.json` of the secure layout). Unset:
    # answers ride the main connection (open `dev`), which then needs the rights to.
    nats_responder_credentials_file: Path | None = None
    # Whether answers may go to plain `_INBOX.…` subjects (services/security/reply_guard.py).
    # Unset: only when the service connects anonymously (open `dev`, where clients use
    # `_INBOX.<nuid>`); with an identity, every client has an inbox prefix of its own.
    plain_inbox_replies: bool | None = None
    # Off only where the caller has just told the user the server is open on purpose
    # (`one-bus dev` prints it in its banner): one warning, not two.
    nats_anonymous_warning: bool = True
    mongodb_uri: str = "mongodb://127.0.0.1:27017/?directConnection=true"
    mongodb_db: str = "one"
    # Credentials kept out of the URI, so the URI never carries a secret; TLS goes in the
    # URI (`tls=true&tlsCAFile=...`), authSource too.
    mongodb_user: str | None = None
    mongodb_password: SecretStr | None = None
    mongodb_password_file: Path | None = None
    # "majority" in production: an acked message survives a primary failover; an int is
    # also accepted as a string ("1").
    mongodb_write_concern: str = "majority"
    # j: true: a write is acknowledged only once it is in the store's journal on disk, so
    # an acked message survives the store being killed (SecantusDB fsyncs that commit).
    mongodb_journal: bool = True
    # Kept well under ack_wait: a batch waiting on an unreachable store fails fast and is
    # retried with backoff instead of outliving its acknowledgement deadline.
    mongodb_timeout_s: float = Field(default=5.0, gt=0)

    # Streams and consumers: declared idempotently at start unless operators manage them.
    declare_streams: bool = True
    stream_replicas: int = Field(default=1, ge=1, le=5)
    ingest_stream: str = INGEST_STREAM
    changes_stream: str = CHANGES_STREAM
    dlq_stream: str = DLQ_STREAM
    ingest_consumer: str = INGEST_CONSUMER
    duplicate_window_s: float = Field(default=120.0, gt=0)
    # "shared": one ingest stream for every tenant (plain `dev`); "per_tenant": a stream
    # per tenant, created by `one-bus tenant add` with the tenant's quotas as its limits
    # (the secure layout, compose, Kubernetes). docs/tenancy.md has the trade-offs.
    ingest_layout: IngestLayout = "shared"
    # How long the declared streams keep messages. Ingest input is raw (an ACP
    # delegate_payment carries card data before the store redacts it), so it is not
    # kept forever; dead letters stay longer, for operators to inspect and replay.
    ingest_max_age_s: float = Field(default=7 * 24 * 3600, gt=0)
    changes_max_age_s: float = Field(default=7 * 24 * 3600, gt=0)
    dlq_max_age_s: float = Field(default=30 * 24 * 3600, gt=0)

    # Batching: a write batch takes up to `batch_size` messages as soon as any are
    # there, from the tenants' lanes in turn (docs/tenancy.md, "Fair ingest").
    batch_size: int = Field(default=512, ge=1, le=10_000)
    # Batches a replica has in hand at once: while one batch's changes are published and
    # acked, the next is written, so the store does not wait on NATS (docs/benchmarks.md).
    ingest_concurrency: int = Field(default=2, ge=1, le=16)
    # How often ingest looks for tenants that appeared (a lane each) or went: a new
    # tenant's first message waits at most about this long for its lane.
    ingest_lane_discovery_s: float = Field(default=0.25, gt=0)
    # An idle lane's long-poll pull lasts this long (then it is renewed): what an idle
    # tenant costs, one small request per this many seconds per replica.
    ingest_lane_pull_expiry_s: float = Field(default=30.0, ge=1)
    # Sized together with the batch: a whole batch must be written well within
    # ack_wait, and max_ack_pending bounds what one replica holds unacknowledged.
    ack_wait_s: float = Field(default=30.0, gt=0)
    max_ack_pending: int = Field(default=4096, ge=1)
    max_payload_bytes: int = Field(default=256 * 1024, ge=1024)
    # Bad input beyond these: headers larger than this (all together), times further
    # ahead of the time the bus received the message than this (a `updatedAt` in the year
    # 9999 would freeze an entity: no later update could win).
    max_header_bytes: int = Field(default=8 * 1024, ge=1024)
    max_clock_skew_s: float = Field(default=24 * 3600, gt=0)
    # A message that keeps failing in a way nobody foresaw (not bad input, not an outage)
    # is dead-lettered as `processing_failed` after this many deliveries.
    max_deliveries: int = Field(default=5, ge=1)

    # Each tenant's quotas unless `one-bus tenant add/set` gives it its own
    # (contracts/tenancy.py, docs/tenancy.md).
    tenant_max_backlog_bytes: int = Field(default=1024**3, ge=1)
    tenant_max_backlog_msgs: int = Field(default=1_000_000, ge=1)
    tenant_max_concurrent_queries: int = Field(default=64, ge=1)
    tenant_max_consumers: int = Field(default=32, ge=1)
    # Consumers on ONE_CHANGES and ONE_DLQ, where tenants' subscribers may create them:
    # at most this many on each stream (every tenant's, the watch replicas', `tail`s),
    # and one unused this long (a durable left behind) is deleted by nats-server.
    stream_max_consumers: int = Field(default=4096, ge=1)
    consumer_inactive_threshold_s: float = Field(default=3600.0, gt=0)
    # How often a query replica deletes tenants' consumers beyond `tenant_max_consumers`
    # (services/security/consumer_warden.py); 0: never.
    consumer_sweep_s: float = Field(default=10.0, ge=0)

    # Transient failures (MongoDB unreachable) are nak'ed with exponential backoff.
    retry_base_delay_s: float = Field(default=0.5, gt=0)
    retry_max_delay_s: float = Field(default=30.0, gt=0)

    # NATS timeouts: 0.5 s defaults are short for a loaded system.
    connect_timeout_s: float = Field(default=5.0, gt=0)
    publish_ack_timeout_s: float = Field(default=5.0, gt=0)
    # On stop, how long in-flight batches and requests may take to finish.
    drain_timeout_s: float = Field(default=15.0, gt=0)
    # http://0.0.0.0:<port>/metrics (Prometheus), /healthz and /readyz (probes); 0: off.
    metrics_port: int = Field(default=0, ge=0, le=65535)
    # "json": one JSON object per log line, for collectors; "text" for people.
    log_format: LogFormat = "text"
    # What `serve` and `dev` run on (services/runtime/event_loop.py).
    event_loop: EventLoop = "uvloop"

    query_queue_group: str = "one-bus-query"
    # Each query's deadline: its wait for a store slot, and maxTimeMS on every store command.
    query_timeout_s: float = Field(default=5.0, gt=0)
    # Queries reading the store at once per replica; requests refused by validation never
    # take a slot, so hostile input cannot crowd out good queries.
    query_max_concurrency: int = Field(default=32, ge=1, le=1024)
    # Of those, the most one tenant holds while no other tenant reads; while others do
    # (or did within the last second), one each. 1: on SecantusDB a busy tenant's
    # parallel reads slow every other tenant's reads and writes (docs/tenancy.md has the
    # measurements); a multi-core MongoDB may take more.
    query_max_concurrency_per_tenant: int = Field(default=1, ge=1, le=1024)
    # Requests a replica holds at once (reading, or waiting for a store slot); beyond it,
    # a request is answered `timeout` at once instead of queueing without bound.
    query_max_pending: int = Field(default=256, ge=1)
    query_max_limit: int = Field(default=500, ge=1)
    query_default_limit: int = Field(default=50, ge=1)
    # Read-your-writes (`after`, docs/outcomes.md): while any request waits for ingest to
    # reach its sequence, the ingest consumer's ack floor is read this often (one read per
    # consumer for all the requests waiting on it).
    after_poll_s: float = Field(default=0.005, gt=0, le=1)

    # Live queries (docs/watch.md). A watch not renewed within its lease ends.
    watch_enabled: bool = True
    watch_queue_group: str = "one-bus-watch"
    watch_lease_s: float = Field(default=60.0, ge=1)
    watch_max_per_tenant: int = Field(default=10_000, ge=1)
    # Per asking identity in the secure layout (its forced inbox prefix: the server gives
    # no connection id to a responder); in open `dev`, per reply inbox without its last
    # token, the nuid each client connection picks (services/security/reply_guard.py).
    watch_max_per_connection: int = Field(default=1_000, ge=1)
    # Changes within this window after the first one are folded into one re-evaluation.
    watch_coalesce_s: float = Field(default=0.02, ge=0)
    # Re-evaluations reading the store at once per replica.
    watch_max_concurrency: int = Field(default=16, ge=1, le=1024)
    # Of those, the most one tenant's re-evaluations hold while it is alone (as for
    # queries: one each while others read too).
    watch_max_concurrency_per_tenant: int = Field(default=1, ge=1, le=1024)
    # Watch definitions and replica heartbeats, where any replica can find them.
    watch_kv_bucket: str = WATCH_BUCKET
    # The bucket's limits (services/watch/bucket.py): its size, and how long a key lives
    # unwritten (at least twice the lease: every live key is rewritten once a lease).
    watch_kv_max_bytes: int = Field(default=256 * 1024**2, ge=1024**2)
    watch_kv_max_age_s: float = Field(default=3600.0, gt=0)
    # How long a starting replica waits to have read the whole bucket before it serves
    # anyway (a large bucket must not keep live queries off).
    watch_load_wait_s: float = Field(default=5.0, gt=0)
    watch_heartbeat_s: float = Field(default=1.0, gt=0)
    # A replica silent this long is gone: the others take its watches over.
    watch_replica_timeout_s: float = Field(default=5.0, gt=0)

    @property
    def tenant_defaults(self) -> TenantQuotas:
        """The quotas of a tenant that has none of its own."""
        return TenantQuotas(
            max_backlog_bytes=self.tenant_max_backlog_bytes,
            max_backlog_msgs=self.tenant_max_backlog_msgs,
            max_concurrent_queries=self.tenant_max_concurrent_queries,
            max_watches=self.watch_max_per_tenant,
            max_consumers=self.tenant_max_consumers,
        )

    @property
    def replies_to_plain_inbox(self) -> bool:
        """The layout's rule for plain `_INBOX.…` reply subjects (the one place it is decided)."""
        if self.plain_inbox_replies is not None:
            return self.plain_inbox_replies
        return self.nats_credentials_file is None and self.nats_user is None

    @property
    def nats_servers(self) -> list[str]:
        return nats_servers(self.nats_url)


def nats_servers(url: str) -> list[str]:
    """`ONE_NATS_URL` split into the server list nats-py and FastStream take."""
    return [server.strip() for server in url.split(",") if server.strip()]

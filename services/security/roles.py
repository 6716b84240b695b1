"""What each NATS identity may publish and subscribe to (everything else is denied).

One NATS account, one user per role and tenant, each with an allow list: the server
refuses any other publish or subscribe. The subject layout is the one publishers already
use (`one.v1.<tenant>.<kind>...`); only the inbox prefixes are new, so that replies to one
identity can be read by no other.

Roles:

- tenant **publisher**: its own ingest subjects and query requests; replies on its inbox;
- tenant **subscriber**: its own `changes` and `events`, and ordered consumers on
  `ONE_CHANGES` and `ONE_DLQ` filtered to its own changes and dead letters (the filter is
  in the API subject, which the server checks against the consumer's configuration);
- **ingest**: its stream consumer, changes and dead letters for every tenant, declaring
  the streams (create and info, never delete or purge);
- **query**: the only identity that may subscribe to query and watch subjects (no rogue
  responder can join the queue group), `$SRV` discovery; it may publish replies, and for
  live queries use their KV bucket, follow the changes and push to tenants' inboxes;
- **service**: ingest and query in one process (what `one-bus serve` runs);
- **operator**: the JetStream API (streams, dead letters) and replays to ingest subjects.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from contracts.subjects import INGEST_KINDS, PREFIX
from contracts.tenancy import TENANTS_BUCKET

INGEST_STREAM: Final = "ONE_INGEST"
CHANGES_STREAM: Final = "ONE_CHANGES"
DLQ_STREAM: Final = "ONE_DLQ"
WATCH_BUCKET: Final = "ONE_WATCHES"
STREAMS: Final = (INGEST_STREAM, CHANGES_STREAM, DLQ_STREAM)


class Role(StrEnum):
    PUBLISHER = "publisher"
    SUBSCRIBER = "subscriber"
    INGEST = "ingest"
    QUERY = "query"
    SERVICE = "service"
    OPERATOR = "operator"


TENANT_ROLES: Final = (Role.PUBLISHER, Role.SUBSCRIBER)
SERVICE_ROLES: Final = (Role.INGEST, Role.QUERY, Role.SERVICE, Role.OPERATOR)


@dataclass(frozen=True, slots=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    # Publish to the reply subject of a request received (once, the server's default).
    allow_responses: bool = False
    inbox_prefix: str = field(default="")

    def to_config(self) -> dict[str, object]:
        """The `permissions` block of a user in nats-server's configuration."""
        config: dict[str, object] = {"subscribe": {"allow": list(self.subscribe)}}
        if self.publish:
            config["publish"] = {"allow": list(self.publish)}
        elif not self.allow_responses:
            # No publish permissions at all would allow everything: deny instead.
            config["publish"] = {"deny": [">"]}
        if self.allow_responses:
            # Implicitly denies every other publish (explicit allows excepted). The query
            # service sees each request twice (its endpoint and its unknown-name
            # subscription, services/query/responder.py) and the server counts both
            # deliveries: with one response allowed, the answer was refused. The expiry
            # lets the server forget requests it will see no answer to.
            config["allow_responses"] = {"max": 2, "expires": "1m"}
        return config


def inbox_prefix(role: Role, tenant: str | None = None) -> str:
    """The inbox prefix an identity must use: its replies arrive under it, and only it
    may subscribe there (nobody may subscribe to `_INBOX.>`)."""
    if tenant is not None:
        short = "pub" if role is Role.PUBLISHER else "sub"
        return f"_INBOX_TENANT.{tenant}.{short}"
    return f"_INBOX_SERVICE.{role.value}"


def user_name(role: Role, tenant: str | None = None) -> str:
    if tenant is not None:
        return f"{role.value}-{tenant}"
    return f"svc-{role.value}"


def tenant_permissions(role: Role, tenant: str) -> Permissions:
    inbox = inbox_prefix(role, tenant)
    base = f"{PREFIX}.{tenant}"
    if role is Role.PUBLISHER:
        return Permissions(
            publish=(
                *(f"{base}.{kind}.>" for kind in INGEST_KINDS),
                f"{base}.query.>",
                f"{base}.watch.>",  # live queries, their renewals and stops
            ),
            subscribe=(f"{inbox}.>",),
            inbox_prefix=inbox,
        )
    if role is Role.SUBSCRIBER:
        return Permissions(
            publish=(
                # Consumer creation with the filter in the subject (nats-server >= 2.10
                # refuses a body whose filter differs): its own changes and its own dead
                # letters (its own input, rejected) only, any name.
                f"$JS.API.CONSUMER.CREATE.{CHANGES_STREAM}.*.{base}.changes.>",
                f"$JS.API.CONSUMER.CREATE.{DLQ_STREAM}.*.{base}.dlq.>",
                # Flow-control answers of ordered consumers.
                f"$JS.FC.{CHANGES_STREAM}.>",
                f"$JS.FC.{DLQ_STREAM}.>",
            ),
            subscribe=(f"{base}.changes.>", f"{base}.events.>", f"{inbox}.>"),
            inbox_prefix=inbox,
        )
    raise ValueError(f"{role} is not a tenant role")


def _ingest_publish(ingest_consumer: str) -> tuple[str, ...]:
    return (
        f"{PREFIX}.*.changes.>",
        f"{PREFIX}.*.dlq.>",
        *(f"$JS.API.STREAM.CREATE.{stream}" for stream in STREAMS),
        *(f"$JS.API.STREAM.INFO.{stream}" for stream in STREAMS),
        f"$JS.API.CONSUMER.CREATE.{INGEST_STREAM}.{ingest_consumer}",
        f"$JS.API.CONSUMER.CREATE.{INGEST_STREAM}.{ingest_consumer}.>",
        f"$JS.API.CONSUMER.DURABLE.CREATE.{INGEST_STREAM}.{ingest_consumer}",
        f"$JS.API.CONSUMER.INFO.{INGEST_STREAM}.{ingest_consumer}",
        f"$JS.API.CONSUMER.MSG.NEXT.{INGEST_STREAM}.{ingest_consumer}",
        f"$JS.ACK.{INGEST_STREAM}.{ingest_consumer}.>",
    )


_QUERY_SUBSCRIBE: Final = (f"{PREFIX}.*.query.>", f"{PREFIX}.*.watch.>", "$SRV.>")
# Live queries (docs/watch.md): their KV bucket, ordered consumers on it and on the
# changes, and pushes to the tenants' inboxes (services/watch/deliver_to.py keeps each
# tenant's pushes in its own inbox).
_WATCH_PUBLISH: Final = (
    f"$JS.API.STREAM.INFO.{CHANGES_STREAM}",
    "$JS.API.STREAM.NAMES",  # nats-py looks a subject's stream up for a KV watch
    f"$JS.API.STREAM.INFO.KV_{WATCH_BUCKET}",
    f"$JS.API.STREAM.CREATE.KV_{WATCH_BUCKET}",
    f"$JS.API.STREAM.MSG.GET.KV_{WATCH_BUCKET}",
    f"$JS.API.DIRECT.GET.KV_{WATCH_BUCKET}.>",
    f"$KV.{WATCH_BUCKET}.>",
    f"$JS.API.CONSUMER.CREATE.KV_{WATCH_BUCKET}",
    f"$JS.API.CONSUMER.CREATE.KV_{WATCH_BUCKET}.>",
    f"$JS.API.CONSUMER.INFO.KV_{WATCH_BUCKET}.>",
    f"$JS.API.CONSUMER.DELETE.KV_{WATCH_BUCKET}.>",
    f"$JS.FC.KV_{WATCH_BUCKET}.>",
    f"$JS.API.CONSUMER.CREATE.{CHANGES_STREAM}",
    f"$JS.API.CONSUMER.CREATE.{CHANGES_STREAM}.>",
    f"$JS.API.CONSUMER.DELETE.{CHANGES_STREAM}.>",
    f"$JS.FC.{CHANGES_STREAM}.>",
    "_INBOX_TENANT.*.>",
)

# Following the tenants' quotas (services/runtime/tenant_directory.py): read only, as an
# ordered consumer; `one-bus tenant add/set` (operator) writes them. The service identity
# may also create the bucket, as it declares the other streams.
_TENANTS_READ: Final = (
    f"$JS.API.STREAM.INFO.KV_{TENANTS_BUCKET}",
    f"$JS.API.CONSUMER.CREATE.KV_{TENANTS_BUCKET}",
    f"$JS.API.CONSUMER.CREATE.KV_{TENANTS_BUCKET}.>",
    f"$JS.API.CONSUMER.INFO.KV_{TENANTS_BUCKET}.>",
    f"$JS.API.CONSUMER.DELETE.KV_{TENANTS_BUCKET}.>",
    f"$JS.FC.KV_{TENANTS_BUCKET}.>",
)


def service_permissions(role: Role, ingest_consumer: str = "one-bus-ingest") -> Permissions:
    inbox = inbox_prefix(role)
    if role is Role.INGEST:
        return Permissions(
            publish=_ingest_publish(ingest_consumer), subscribe=(f"{inbox}.>",), inbox_prefix=inbox
        )
    if role is Role.QUERY:
        return Permissions(
            publish=(*_WATCH_PUBLISH, *_TENANTS_READ),
            subscribe=(*_QUERY_SUBSCRIBE, f"{inbox}.>"),
            allow_responses=True,
            inbox_prefix=inbox,
        )
    if role is Role.SERVICE:
        return Permissions(
            publish=(
                *_ingest_publish(ingest_consumer),
                *_WATCH_PUBLISH,
                *_TENANTS_READ,
                f"$JS.API.STREAM.CREATE.KV_{TENANTS_BUCKET}",
            ),
            subscribe=(*_QUERY_SUBSCRIBE, f"{inbox}.>"),
            allow_responses=True,
            inbox_prefix=inbox,
        )
    if role is Role.OPERATOR:
        return Permissions(
            publish=(
                "$JS.API.>",
                "$JS.FC.>",  # flow control of its ordered consumers (`one-bus tail`)
                "$SRV.>",
                # Dead-letter replays go back to the subject they came from.
                *(f"{PREFIX}.*.{kind}.>" for kind in INGEST_KINDS),
            ),
            subscribe=(f"{PREFIX}.*.dlq.>", f"{inbox}.>"),
            inbox_prefix=inbox,
        )
    raise ValueError(f"{role} is not a service role")

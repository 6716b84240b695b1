"""What each NATS identity may publish and subscribe to (everything else is denied).

One NATS account, one user per role and tenant, each with an allow list: the server
refuses any other publish or subscribe. The subject layout is the one publishers already
use (`one.v1.<tenant>.<kind>...`); only the inbox prefixes are new, so that replies to one
identity can be read by no other.

Roles of a tenant (the seed's, which `one-bus tenant add` issues by default):

- **org_owner**: everything of its tenant: what org_user may, plus the state of its own
  ingest stream and lane consumer (`tenant stats` of its tenant) and replaying dead
  letters (reading them through a consumer filtered to its own, publishing them back to
  its own ingest subjects). Deleting dead letters and issuing identities stay with the
  platform owner: nats-server cannot tie a message-delete request (a sequence in the
  body) to a tenant, and the users live in the platform's server configuration;
- **org_user**: publish, query, watch, follow its changes and dead letters (what a
  publisher and a subscriber may, in one identity);
- **customer**: query and watch only: no ingest subjects, no changes, no dead letters;
- the narrower **publisher** (its own ingest subjects, queries and watches) and
  **subscriber** (its own `changes` and `events`, and ordered consumers on `ONE_CHANGES`
  and `ONE_DLQ` filtered to its own changes and dead letters: the filter is in the API
  subject, which the server checks against the consumer's configuration), for services
  that need only one half.

The platform owner is the **operator** below.
- **ingest**: its stream consumer, changes and dead letters for every tenant, declaring
  the streams (create and info, never delete or purge);
- **query**: the only identity that may subscribe to query and watch subjects (no rogue
  responder can join the queue group), `$SRV` discovery; it may publish replies, and for
  live queries use their KV bucket, follow the changes and push to tenants' inboxes;
- **service**: ingest and query in one process (what `one-bus serve` runs);
- **operator** (the seed's platform_owner): the JetStream API across tenants (streams,
  consumers, dead letters, the tenants' and watches' KV buckets), replays to ingest
  subjects and a watch's last push (`tenant remove` ends a tenant's watches).
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from contracts.subjects import INGEST_KINDS, PREFIX
from contracts.tenancy import TENANTS_BUCKET, tenant_ingest_stream

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
    ORG_OWNER = "org_owner"
    ORG_USER = "org_user"
    CUSTOMER = "customer"


# What `one-bus tenant add` issues unless told `--role`: the seed's roles, and the narrower
# publisher and subscriber that services (and existing scripts) use.
TENANT_ROLES: Final = (
    Role.ORG_OWNER,
    Role.ORG_USER,
    Role.CUSTOMER,
    Role.PUBLISHER,
    Role.SUBSCRIBER,
)
# The seed's name for the operator identity (`.../security/specs/operator.json`).
PLATFORM_OWNER: Final = "platform_owner"
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


_INBOX_TOKENS: Final = {
    Role.PUBLISHER: "pub",
    Role.SUBSCRIBER: "sub",
    Role.ORG_OWNER: "owner",
    Role.ORG_USER: "user",
    Role.CUSTOMER: "customer",
}


def inbox_prefix(role: Role, tenant: str | None = None) -> str:
    """The inbox prefix an identity must use: its replies arrive under it, and only it
    may subscribe there (nobody may subscribe to `_INBOX.>`)."""
    if tenant is not None:
        return f"_INBOX_TENANT.{tenant}.{_INBOX_TOKENS[role]}"
    return f"_INBOX_SERVICE.{role.value}"


def user_name(role: Role, tenant: str | None = None) -> str:
    if tenant is not None:
        return f"{role.value}-{tenant}"
    return f"svc-{role.value}"


def _requests(base: str) -> tuple[str, ...]:
    """Queries, live queries, their renewals and stops."""
    return (f"{base}.query.>", f"{base}.watch.>")


def _ingest(base: str) -> tuple[str, ...]:
    return tuple(f"{base}.{kind}.>" for kind in INGEST_KINDS)


def _follow(base: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(publish, subscribe) to follow its own changes and events and replay its own
    changes and dead letters."""
    publish = (
        # Consumer creation with the filter in the subject (nats-server >= 2.10 refuses a
        # body whose filter differs): its own changes and its own dead letters (its own
        # input, rejected) only, any name.
        f"$JS.API.CONSUMER.CREATE.{CHANGES_STREAM}.*.{base}.changes.>",
        f"$JS.API.CONSUMER.CREATE.{DLQ_STREAM}.*.{base}.dlq.>",
        # Flow-control answers of ordered consumers.
        f"$JS.FC.{CHANGES_STREAM}.>",
        f"$JS.FC.{DLQ_STREAM}.>",
    )
    return publish, (f"{base}.changes.>", f"{base}.events.>")


def _own_usage(tenant: str, ingest_consumer: str) -> tuple[str, ...]:
    """Reading the state of its own ingest backlog: its stream (per-tenant layout) and its
    lane consumer (the API subject names both, so no other tenant's is reachable)."""
    own_stream = tenant_ingest_stream(INGEST_STREAM, tenant)
    return (
        f"$JS.API.STREAM.INFO.{own_stream}",
        f"$JS.API.CONSUMER.INFO.{own_stream}.*",
        f"$JS.API.CONSUMER.INFO.{INGEST_STREAM}.{lane_consumer_name(ingest_consumer, tenant)}",
    )


def lane_consumer_name(ingest_consumer: str, tenant: str) -> str:
    """The durable that takes one tenant's input from the shared ingest stream."""
    return f"{ingest_consumer}_{tenant}"


def tenant_permissions(
    role: Role, tenant: str, ingest_consumer: str = "one-bus-ingest"
) -> Permissions:
    inbox = inbox_prefix(role, tenant)
    base = f"{PREFIX}.{tenant}"
    follow_publish, follow_subscribe = _follow(base)
    grants: dict[Role, tuple[tuple[str, ...], tuple[str, ...]]] = {
        Role.PUBLISHER: ((*_ingest(base), *_requests(base)), ()),
        Role.SUBSCRIBER: (follow_publish, follow_subscribe),
        Role.CUSTOMER: (_requests(base), ()),
        Role.ORG_USER: ((*_ingest(base), *_requests(base), *follow_publish), follow_subscribe),
        Role.ORG_OWNER: (
            (
                *_ingest(base),
                *_requests(base),
                *follow_publish,
                *_own_usage(tenant, ingest_consumer),
            ),
            follow_subscribe,
        ),
    }
    if role not in grants:
        raise ValueError(f"{role} is not a tenant role")
    publish, subscribe = grants[role]
    return Permissions(publish=publish, subscribe=(*subscribe, f"{inbox}.>"), inbox_prefix=inbox)


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


def service_permissions(role: Role, ingest_consumer: str = "one-bus-ingest") -> Permissions:
    inbox = inbox_prefix(role)
    if role is Role.INGEST:
        return Permissions(
            publish=_ingest_publish(ingest_consumer), subscribe=(f"{inbox}.>",), inbox_prefix=inbox
        )
    if role is Role.QUERY:
        return Permissions(
            publish=_WATCH_PUBLISH,
            subscribe=(*_QUERY_SUBSCRIBE, f"{inbox}.>"),
            allow_responses=True,
            inbox_prefix=inbox,
        )
    if role is Role.SERVICE:
        return Permissions(
            publish=(*_ingest_publish(ingest_consumer), *_WATCH_PUBLISH),
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
                # Tenants' quotas, and ending a removed tenant's watches: their records,
                # then each watch's last push to its tenant's inbox.
                f"$KV.{TENANTS_BUCKET}.>",
                f"$KV.{WATCH_BUCKET}.>",
                "_INBOX_TENANT.*.>",
            ),
            subscribe=(f"{PREFIX}.*.dlq.>", f"{inbox}.>"),
            inbox_prefix=inbox,
        )
    raise ValueError(f"{role} is not a service role")

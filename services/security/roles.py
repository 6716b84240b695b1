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
- **ingest**: its lanes (a consumer per tenant on the ingest streams), changes and dead
  letters for every tenant, declaring the shared streams (create and info, never delete
  or purge), write outcomes to the askers' inboxes where it has no responder;
- **responder**: the connection that answers requests, and the only identity that may
  subscribe to query and watch subjects and `$SRV` discovery (no rogue responder can join
  the queue group). It may publish to tenants' inboxes and the operator's, nothing else,
  and has no `allow_responses`: nats-server lets a user with it publish on the reply
  subject of any request it received, whatever its allow (or deny) list says, so a reply
  subject aimed at `$KV.ONE_WATCHES.…` or `one.v1.<other>.changes.…` would pass. Without
  it, a reply goes out only if the subject is an inbox; which inbox is the asker's is
  the service's rule (services/security/reply_guard.py);
- **query**: what a query replica does besides answering: for live queries, their KV
  bucket, following the changes and pushing to tenants' inboxes. It receives no
  requests, so no reply subject can steer what it writes;
- **service**: ingest and query in one process (what `one-bus serve` runs), answering
  through the responder identity as a query replica does;
- **operator** (the seed's platform_owner): the JetStream API across tenants (streams,
  consumers, dead letters, the tenants' and watches' KV buckets), replays to ingest
  subjects and a watch's last push (`tenant remove` ends a tenant's watches).
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from contracts.subjects import (
    ALL_SUBJECTS,
    ALL_TENANTS,
    CHANGES_STREAM,
    DLQ_STREAM,
    INGEST_CONSUMER,
    INGEST_KINDS,
    INGEST_STREAM,
    JS_FLOW_CONTROL_WILDCARD,
    SRV_WILDCARD,
    STREAMS,
    TENANTS_BUCKET,
    WATCH_BUCKET,
    js_ack,
    js_api,
    js_flow_control,
    kind_wildcard,
    kv_stream,
    kv_subject,
    tenant_ingest_stream,
)


class Role(StrEnum):
    PUBLISHER = "publisher"
    SUBSCRIBER = "subscriber"
    INGEST = "ingest"
    QUERY = "query"
    SERVICE = "service"
    RESPONDER = "responder"
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
SERVICE_ROLES: Final = (Role.INGEST, Role.QUERY, Role.SERVICE, Role.RESPONDER, Role.OPERATOR)

# The inbox prefixes of the secure layout: `_INBOX_TENANT.<tenant>.<kind>` for a tenant's
# identities, `_INBOX_SERVICE.<role>` for the service's.
TENANT_INBOX: Final = "_INBOX_TENANT"
SERVICE_INBOX: Final = "_INBOX_SERVICE"
# The service identities that may send requests the service answers (`$SRV` discovery).
ASKING_SERVICE_ROLES: Final = frozenset({Role.OPERATOR.value})


@dataclass(frozen=True, slots=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    inbox_prefix: str = field(default="")

    def to_config(self) -> dict[str, object]:
        """The `permissions` block of a user in nats-server's configuration."""
        config: dict[str, object] = {"subscribe": {"allow": list(self.subscribe)}}
        if self.publish:
            config["publish"] = {"allow": list(self.publish)}
        else:
            # No publish permissions at all would allow everything: deny instead.
            config["publish"] = {"deny": [">"]}
        # Never `allow_responses` (see the responder role above).
        return config


_INBOX_TOKENS: Final = {
    Role.PUBLISHER: "pub",
    Role.SUBSCRIBER: "sub",
    Role.ORG_OWNER: "owner",
    Role.ORG_USER: "user",
    Role.CUSTOMER: "customer",
}
# What follows the tenant in a tenant identity's inbox: each names one identity.
TENANT_INBOX_KINDS: Final = frozenset(_INBOX_TOKENS.values())


def inbox_prefix(role: Role, tenant: str | None = None) -> str:
    """The inbox prefix an identity must use: its replies arrive under it, and only it
    may subscribe there (nobody may subscribe to `_INBOX.>`)."""
    if tenant is not None:
        return f"{TENANT_INBOX}.{tenant}.{_INBOX_TOKENS[role]}"
    return f"{SERVICE_INBOX}.{role.value}"


def user_name(role: Role, tenant: str | None = None) -> str:
    if tenant is not None:
        return f"{role.value}-{tenant}"
    return f"svc-{role.value}"


def _requests(tenant: str) -> tuple[str, ...]:
    """Queries, live queries, their renewals and stops."""
    return (kind_wildcard(tenant, "query"), kind_wildcard(tenant, "watch"))


def _ingest(tenant: str) -> tuple[str, ...]:
    return tuple(kind_wildcard(tenant, kind) for kind in INGEST_KINDS)


def _follow(tenant: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(publish, subscribe) to follow its own changes and events and replay its own
    changes and dead letters."""
    publish = (
        # Consumer creation with the filter in the subject (nats-server >= 2.10 refuses a
        # body whose filter differs): its own changes and its own dead letters (its own
        # input, rejected) only, any name.
        js_api("CONSUMER", "CREATE", CHANGES_STREAM, "*", kind_wildcard(tenant, "changes")),
        js_api("CONSUMER", "CREATE", DLQ_STREAM, "*", kind_wildcard(tenant, "dlq")),
        # Flow-control answers of ordered consumers.
        js_flow_control(CHANGES_STREAM),
        js_flow_control(DLQ_STREAM),
    )
    return publish, (kind_wildcard(tenant, "changes"), kind_wildcard(tenant, "events"))


def _own_usage(tenant: str, ingest_consumer: str) -> tuple[str, ...]:
    """Reading the state of its own ingest backlog: its stream (per-tenant layout) and its
    lane consumer (the API subject names both, so no other tenant's is reachable)."""
    own_stream = tenant_ingest_stream(INGEST_STREAM, tenant)
    return (
        js_api("STREAM", "INFO", own_stream),
        js_api("CONSUMER", "INFO", own_stream, "*"),
        js_api("CONSUMER", "INFO", INGEST_STREAM, lane_consumer_name(ingest_consumer, tenant)),
    )


def lane_consumer_name(ingest_consumer: str, tenant: str) -> str:
    """The durable that takes one tenant's input from the shared ingest stream."""
    return f"{ingest_consumer}_{tenant}"


def tenant_permissions(
    role: Role, tenant: str, ingest_consumer: str = INGEST_CONSUMER
) -> Permissions:
    inbox = inbox_prefix(role, tenant)
    follow_publish, follow_subscribe = _follow(tenant)
    grants: dict[Role, tuple[tuple[str, ...], tuple[str, ...]]] = {
        Role.PUBLISHER: ((*_ingest(tenant), *_requests(tenant)), ()),
        Role.SUBSCRIBER: (follow_publish, follow_subscribe),
        Role.CUSTOMER: (_requests(tenant), ()),
        Role.ORG_USER: ((*_ingest(tenant), *_requests(tenant), *follow_publish), follow_subscribe),
        Role.ORG_OWNER: (
            (
                *_ingest(tenant),
                *_requests(tenant),
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
    """Ingest's lanes (services/ingest/lanes.py): a durable per tenant on the shared
    stream (`<ingest_consumer>_<tenant>`, so any consumer name there), and on each
    tenant's own stream the durable `<ingest_consumer>` (a permission cannot match part
    of a stream name, so the consumer name is what is pinned). Creating one needs its
    filter in the API subject under the ingest subjects, which nats-server accepts only
    on a stream holding them. Finding lanes: the shared stream's subjects, the names of
    the streams. Never a delete but of the single consumer earlier versions used (taken
    over by lanes), never a purge, never a stream of a tenant created."""
    stream_consumer = f"{INGEST_STREAM}.*"
    tenant_consumer = f"*.{ingest_consumer}"
    return (
        kind_wildcard(ALL_TENANTS, "changes"),
        kind_wildcard(ALL_TENANTS, "dlq"),
        *(js_api("STREAM", "CREATE", stream) for stream in STREAMS),
        *(js_api("STREAM", "INFO", stream) for stream in STREAMS),
        js_api("STREAM", "NAMES"),
        *(
            subject
            for consumer in (stream_consumer, tenant_consumer)
            for subject in (
                js_api("CONSUMER", "CREATE", consumer, ALL_SUBJECTS),
                js_api("CONSUMER", "INFO", consumer),
                js_api("CONSUMER", "MSG", "NEXT", consumer),
                js_ack(consumer),
            )
        ),
        js_api("CONSUMER", "DELETE", INGEST_STREAM, ingest_consumer),
        # Write outcomes (docs/outcomes.md) to the asking publisher's inbox (the reply
        # rule keeps each tenant's in its own) and to operators replaying dead letters.
        f"{TENANT_INBOX}.*.>",
        f"{inbox_prefix(Role.OPERATOR)}.>",
    )


def _progress_read(ingest_consumer: str) -> tuple[str, ...]:
    """Read-your-writes (`after`, services/query/progress.py): the info of ingest's lanes
    (their ack floors) and of the shared ingest stream (its last sequence), nothing else."""
    return (
        js_api("CONSUMER", "INFO", INGEST_STREAM, "*"),
        js_api("CONSUMER", "INFO", "*", ingest_consumer),
        # The shared stream's end (a tenant's own stream needs none: its lane takes all).
        js_api("STREAM", "INFO", INGEST_STREAM),
    )


_REQUESTS: Final = (*_requests(ALL_TENANTS), SRV_WILDCARD)
# Pushes of live queries to the tenants' inboxes (the reply guard keeps each tenant's in
# its own), and answers: to the tenants' and to the operator's, the identity that may ask
# `$SRV` discovery. Never the other services' inboxes.
_TENANT_INBOXES: Final = f"{TENANT_INBOX}.*.*.>"
_ANSWERS: Final = (_TENANT_INBOXES, *(f"{SERVICE_INBOX}.{role}.>" for role in ASKING_SERVICE_ROLES))
# Live queries (docs/watch.md): their KV bucket, ordered consumers on it and on the
# changes, and pushes to the tenants' inboxes.
_WATCHES: Final = kv_stream(WATCH_BUCKET)
_WATCH_PUBLISH: Final = (
    js_api("STREAM", "INFO", CHANGES_STREAM),
    js_api("STREAM", "NAMES"),  # nats-py looks a subject's stream up for a KV watch
    js_api("STREAM", "INFO", _WATCHES),
    js_api("STREAM", "CREATE", _WATCHES),
    # Limits on a bucket declared before they existed (services/watch/bucket.py).
    js_api("STREAM", "UPDATE", _WATCHES),
    js_api("STREAM", "MSG", "GET", _WATCHES),
    js_api("DIRECT", "GET", _WATCHES, ">"),
    kv_subject(WATCH_BUCKET, ">"),
    js_api("CONSUMER", "CREATE", _WATCHES),
    js_api("CONSUMER", "CREATE", _WATCHES, ">"),
    js_api("CONSUMER", "INFO", _WATCHES, ">"),
    js_api("CONSUMER", "DELETE", _WATCHES, ">"),
    js_flow_control(_WATCHES),
    js_api("CONSUMER", "CREATE", CHANGES_STREAM),
    js_api("CONSUMER", "CREATE", CHANGES_STREAM, ">"),
    js_api("CONSUMER", "DELETE", CHANGES_STREAM, ">"),
    js_flow_control(CHANGES_STREAM),
    # Tenants' consumers beyond their quota (services/security/consumer_warden.py).
    js_api("CONSUMER", "LIST", CHANGES_STREAM),
    js_api("CONSUMER", "LIST", DLQ_STREAM),
    js_api("CONSUMER", "DELETE", DLQ_STREAM, ">"),
    _TENANT_INBOXES,
)

# Following the tenants' quotas (services/runtime/tenant_directory.py): read only, as an
# ordered consumer; `one-bus tenant add/set` (operator) writes them. The service identity
# may also create the bucket, as it declares the other streams.
_TENANTS: Final = kv_stream(TENANTS_BUCKET)
_TENANTS_READ: Final = (
    js_api("STREAM", "INFO", _TENANTS),
    js_api("CONSUMER", "CREATE", _TENANTS),
    js_api("CONSUMER", "CREATE", _TENANTS, ">"),
    js_api("CONSUMER", "INFO", _TENANTS, ">"),
    js_api("CONSUMER", "DELETE", _TENANTS, ">"),
    js_flow_control(_TENANTS),
)


def service_permissions(role: Role, ingest_consumer: str = INGEST_CONSUMER) -> Permissions:
    inbox = inbox_prefix(role)
    if role is Role.INGEST:
        return Permissions(
            publish=_ingest_publish(ingest_consumer), subscribe=(f"{inbox}.>",), inbox_prefix=inbox
        )
    if role is Role.RESPONDER:
        return Permissions(
            publish=_ANSWERS, subscribe=(*_REQUESTS, f"{inbox}.>"), inbox_prefix=inbox
        )
    if role is Role.QUERY:
        return Permissions(
            publish=(*_WATCH_PUBLISH, *_progress_read(ingest_consumer), *_TENANTS_READ),
            subscribe=(f"{inbox}.>",),
            inbox_prefix=inbox,
        )
    if role is Role.SERVICE:
        return Permissions(
            publish=(
                *_ingest_publish(ingest_consumer),
                *_WATCH_PUBLISH,
                *_progress_read(ingest_consumer),
                *_TENANTS_READ,
                js_api("STREAM", "CREATE", _TENANTS),
            ),
            subscribe=(f"{inbox}.>",),
            inbox_prefix=inbox,
        )
    if role is Role.OPERATOR:
        return Permissions(
            publish=(
                js_api(">"),
                JS_FLOW_CONTROL_WILDCARD,  # flow control of its ordered consumers (`tail`)
                SRV_WILDCARD,
                # Dead-letter replays go back to the subject they came from.
                *_ingest(ALL_TENANTS),
                # Tenants' quotas, and ending a removed tenant's watches: their records,
                # then each watch's last push to its tenant's inbox.
                kv_subject(TENANTS_BUCKET, ">"),
                kv_subject(WATCH_BUCKET, ">"),
                f"{TENANT_INBOX}.*.>",
            ),
            subscribe=(kind_wildcard(ALL_TENANTS, "dlq"), f"{inbox}.>"),
            inbox_prefix=inbox,
        )
    raise ValueError(f"{role} is not a service role")

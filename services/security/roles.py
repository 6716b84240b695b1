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
- **operator**: the JetStream API (streams, dead letters) and replays to ingest subjects.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from contracts.subjects import INGEST_KINDS, PREFIX

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
    RESPONDER = "responder"
    OPERATOR = "operator"


TENANT_ROLES: Final = (Role.PUBLISHER, Role.SUBSCRIBER)
SERVICE_ROLES: Final = (Role.INGEST, Role.QUERY, Role.SERVICE, Role.RESPONDER, Role.OPERATOR)

# The inbox prefixes of the secure layout: `_INBOX_TENANT.<tenant>.<kind>` for a tenant's
# identities, `_INBOX_SERVICE.<role>` for the service's.
TENANT_INBOX: Final = "_INBOX_TENANT"
SERVICE_INBOX: Final = "_INBOX_SERVICE"
# The service identities that may send requests the service answers (`$SRV` discovery).
ASKING_SERVICE_ROLES: Final = frozenset({Role.OPERATOR.value})
_TENANT_INBOX_KIND: Final = {Role.PUBLISHER: "pub", Role.SUBSCRIBER: "sub"}
TENANT_INBOX_KINDS: Final = frozenset(_TENANT_INBOX_KIND.values())


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


def inbox_prefix(role: Role, tenant: str | None = None) -> str:
    """The inbox prefix an identity must use: its replies arrive under it, and only it
    may subscribe there (nobody may subscribe to `_INBOX.>`)."""
    if tenant is not None:
        return f"{TENANT_INBOX}.{tenant}.{_TENANT_INBOX_KIND[role]}"
    return f"{SERVICE_INBOX}.{role.value}"


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
        # Write outcomes (docs/outcomes.md) to the asking publisher's inbox (the reply
        # rule keeps each tenant's in its own) and to operators replaying dead letters.
        f"{TENANT_INBOX}.*.>",
        f"{inbox_prefix(Role.OPERATOR)}.>",
    )


def _progress_read(ingest_consumer: str) -> tuple[str, ...]:
    """Read-your-writes (`after`): the ingest consumer's ack floor, nothing else of it."""
    return (f"$JS.API.CONSUMER.INFO.{INGEST_STREAM}.{ingest_consumer}",)


_REQUESTS: Final = (f"{PREFIX}.*.query.>", f"{PREFIX}.*.watch.>", "$SRV.>")
# Pushes of live queries to the tenants' inboxes (the reply guard keeps each tenant's in
# its own), and answers: to the tenants' and to the operator's, the identity that may ask
# `$SRV` discovery. Never the other services' inboxes.
_TENANT_INBOXES: Final = f"{TENANT_INBOX}.*.*.>"
_ANSWERS: Final = (_TENANT_INBOXES, *(f"{SERVICE_INBOX}.{role}.>" for role in ASKING_SERVICE_ROLES))
# Live queries (docs/watch.md): their KV bucket, ordered consumers on it and on the
# changes, and pushes to the tenants' inboxes.
_WATCH_PUBLISH: Final = (
    f"$JS.API.STREAM.INFO.{CHANGES_STREAM}",
    "$JS.API.STREAM.NAMES",  # nats-py looks a subject's stream up for a KV watch
    f"$JS.API.STREAM.INFO.KV_{WATCH_BUCKET}",
    f"$JS.API.STREAM.CREATE.KV_{WATCH_BUCKET}",
    # Limits on a bucket declared before they existed (services/watch/store.py).
    f"$JS.API.STREAM.UPDATE.KV_{WATCH_BUCKET}",
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
    # Tenants' consumers beyond their quota (services/security/consumer_warden.py).
    f"$JS.API.CONSUMER.LIST.{CHANGES_STREAM}",
    f"$JS.API.CONSUMER.LIST.{DLQ_STREAM}",
    f"$JS.API.CONSUMER.DELETE.{DLQ_STREAM}.>",
    _TENANT_INBOXES,
)


def service_permissions(role: Role, ingest_consumer: str = "one-bus-ingest") -> Permissions:
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
            publish=(*_WATCH_PUBLISH, *_progress_read(ingest_consumer)),
            subscribe=(f"{inbox}.>",),
            inbox_prefix=inbox,
        )
    if role is Role.SERVICE:
        return Permissions(
            publish=(*_ingest_publish(ingest_consumer), *_WATCH_PUBLISH),
            subscribe=(f"{inbox}.>",),
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

"""Where the service may send an answer: the asking identity's own inbox, and nowhere else.

A requester chooses its reply subject, and a responder publishes there with its own
rights, so every answer the service sends on a subject somebody else named (query and
live-query replies, `$SRV` discovery, the pushes of a watch to its `deliverTo`, write
outcomes) passes this one rule first. Without it a tenant could aim the service at
another tenant's `changes` or ingest subjects, another tenant's inbox or the live-query
bucket (`$KV.ONE_WATCHES.…`), and the service would write there as itself.

The rule, for an asker of tenant `t` (or `""`: a service identity, for discovery):

- `_INBOX_TENANT.<t>.<kind>.…` (the prefix every tenant identity must use in the secure
  layout, services/security/roles.py): only `t`'s own, and only a kind the layout gives
  a tenant (`pub`, `sub`), so the prefix names one identity;
- `_INBOX_SERVICE.<role>.…`: only to a service asker (discovery), never to a tenant, and
  only the inbox of a role that may ask (`ASKING_SERVICE_ROLES`: the operator). Write
  outcomes are the one answer a service may also ask for on a tenant's subject (the
  operator replays dead letters there): their guard takes `service_askers`;
- plain `_INBOX.…`: only where the layout lets clients use it (`plain_inbox`): the open
  `dev` layout, where every client uses `_INBOX.<nuid>.<n>`. In the secure layout every
  identity has a prefix of its own, so a plain inbox is somebody else's or nobody's;
- anything else is refused: the bus's own subjects, `$KV.…`, `$JS.…`, `$SRV.…`,
  look-alikes (`_INBOX_TENANTX.…`), wildcards, empty tokens, whitespace.

`ReplyGuard` applies the rule for one responder and counts what it refuses in
`one_bus_replies_refused_total{responder, reason}` (both labels from fixed sets), never
logging per message: a flood of hostile requests must not become a flood of log lines.
"""

import weakref
from enum import StrEnum
from typing import Final

from prometheus_client import CollectorRegistry, Counter

from services.security.roles import (
    ASKING_SERVICE_ROLES,
    SERVICE_INBOX,
    TENANT_INBOX,
    TENANT_INBOX_KINDS,
)

PLAIN_INBOX: Final = "_INBOX"
# A reply subject is one concrete subject: no wildcard, no whitespace (the protocol's
# separators), no empty token.
_NOT_IN_A_SUBJECT: Final = frozenset(" \t\r\n\f\v\x00*>")


class Refusal(StrEnum):
    """Why an answer was not sent (the metric's `reason` label: a fixed set)."""

    MALFORMED = "malformed"  # empty, a wildcard, whitespace, an empty token
    NOT_AN_INBOX = "not_an_inbox"  # one.v1.…, $KV.…, $JS.…, $SRV.…, look-alikes
    OTHER_TENANT = "other_tenant"  # another tenant's inbox, or one no identity has
    SERVICE_INBOX = "service_inbox"  # a service's inbox, named by a tenant or not an asker's
    TENANT_INBOX = "tenant_inbox"  # a tenant's inbox, named for a service asker
    PLAIN_INBOX = "plain_inbox"  # `_INBOX.…` where identities have prefixes of their own


def refusal(
    tenant: str, subject: str, *, plain_inbox: bool = False, service_askers: bool = False
) -> Refusal | None:
    """Why an answer to an asker of `tenant` (`""`: a service identity) may not go to
    `subject`; None if it may. `service_askers`: on a tenant's subject, the asker may
    also be a service identity that may ask (a replay's outcome)."""
    if not subject or not _NOT_IN_A_SUBJECT.isdisjoint(subject):
        return Refusal.MALFORMED
    tokens = subject.split(".")
    if "" in tokens:
        return Refusal.MALFORMED
    head = tokens[0]
    if head == TENANT_INBOX:
        if not tenant:
            return Refusal.TENANT_INBOX
        # `<prefix>.<tenant>.<kind>.<the client's own tokens>`.
        if len(tokens) < 4 or tokens[1] != tenant or tokens[2] not in TENANT_INBOX_KINDS:
            return Refusal.OTHER_TENANT
        return None
    if head == SERVICE_INBOX:
        if len(tokens) < 3:
            return Refusal.MALFORMED
        if (tenant and not service_askers) or tokens[1] not in ASKING_SERVICE_ROLES:
            return Refusal.SERVICE_INBOX
        return None
    if head == PLAIN_INBOX:
        if not plain_inbox:
            return Refusal.PLAIN_INBOX
        return None if len(tokens) >= 2 else Refusal.MALFORMED
    return Refusal.NOT_AN_INBOX


def may_reply(tenant: str, subject: str, *, plain_inbox: bool = False) -> bool:
    """Whether an answer to an asker of `tenant` (`""`: a service identity) may go to
    `subject` (the rule above; `plain_inbox`: whether the layout lets clients use `_INBOX`)."""
    return refusal(tenant, subject, plain_inbox=plain_inbox) is None


def asker_of(subject: str, tenant: str) -> str:
    """Who counts as one asker for per-connection limits, from the reply subject the
    guard let through. In the secure layout the identity's own prefix
    (`_INBOX_TENANT.<tenant>.<kind>`): the server makes each identity use it, and the
    rest of the subject is the client's to vary. Plain inboxes (open `dev`) tell the
    server's connection apart only by the client's word: `_INBOX.<nuid>` without the
    request token (nats-py, Go and the nats CLI give each connection its own nuid)."""
    tokens = subject.split(".")
    if tokens[0] == TENANT_INBOX and len(tokens) >= 3:
        return ".".join(tokens[:3])
    if len(tokens) >= 3:
        return ".".join(tokens[:-1])
    return subject or tenant


_counters: "weakref.WeakKeyDictionary[CollectorRegistry, Counter]" = weakref.WeakKeyDictionary()


def _refused_counter(registry: CollectorRegistry) -> Counter:
    # One metric per registry, however many responders (and services in one process).
    counter = _counters.get(registry)
    if counter is None:
        counter = Counter(
            "one_bus_replies_refused",
            "Answers not sent because the subject named for them is not the asker's inbox.",
            ("responder", "reason"),
            registry=registry,
        )
        _counters[registry] = counter
    return counter


class ReplyGuard:
    """The rule for one responder (`responder`: a fixed name, the metric's label)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        responder: str,
        *,
        plain_inbox: bool,
        service_askers: bool = False,
    ) -> None:
        self.plain_inbox = plain_inbox
        self._service_askers = service_askers
        counter = _refused_counter(registry)
        self._refused = {reason: counter.labels(responder, reason.value) for reason in Refusal}

    def allows(self, tenant: str, reply: str) -> bool:
        """Whether to answer an asker of `tenant` (`""`: a service identity) at `reply`;
        a refusal is counted."""
        reason = refusal(
            tenant, reply, plain_inbox=self.plain_inbox, service_askers=self._service_askers
        )
        if reason is None:
            return True
        self._refused[reason].inc()
        return False
